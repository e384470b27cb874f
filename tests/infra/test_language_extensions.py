"""sandbox/language_extensions.py: AWS::LanguageExtensions (Fn::ForEach) expanded as CloudFormation does.

Checked against two implementations that are not ours: cfn-lint's transform (what `make lint` validates)
and the SAM CLI's port of CloudFormation's own (what `sam build` expands), on template.yaml itself; then
the rules of the transform on small templates.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from sandbox.language_extensions import TRANSFORM, expand, uses_language_extensions
from sandbox.template import Resolver, TemplateError, translate
from tests.conftest import REPO

pytestmark = pytest.mark.infra

TEMPLATE = REPO / "template.yaml"
SAM_PYTHON = REPO / ".tools" / "bin" / "python"


def _source() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text())


def _made_by_loops(source: dict[str, Any], expanded: dict[str, Any]) -> list[str]:
    return sorted(set(expanded["Resources"]) - set(source["Resources"]))


def test_template_uses_foreach_for_each_functions_log_group_and_errors_alarm():
    source = _source()
    expanded = expand(source)
    functions = sorted(
        k for k, v in expanded["Resources"].items() if v["Type"] == "AWS::Serverless::Function"
    )
    prefixes = [f.removesuffix("Function") for f in functions]
    assert uses_language_extensions(source) and not uses_language_extensions(expanded)
    assert _made_by_loops(source, expanded) == sorted(
        [f"{p}LogGroup" for p in prefixes] + [f"{p}ErrorsAlarm" for p in prefixes]
    )
    assert not [k for k in expanded["Resources"] if k.startswith("Fn::")]


def test_expansion_matches_cfn_lints():
    from cfnlint.decode import decode_str
    from cfnlint.template import Template
    from cfnlint.template.transforms._language_extensions import language_extension

    decoded, errors = decode_str(TEMPLATE.read_text())
    assert not errors
    problems, theirs = language_extension(Template(str(TEMPLATE), decoded, ["us-east-1"]))
    assert not problems
    theirs = json.loads(json.dumps(theirs))
    ours = expand(_source())
    # cfn-lint rewrites Conditions for its own analysis (Fn::Equals operands ordered): the loops are here
    assert ours["Resources"] == theirs["Resources"]
    assert ours["Outputs"] == theirs["Outputs"]


_SAM_CLI_EXPANSION = """
import json, sys
from samtranslator.yaml_helper import yaml_parse
from samcli.lib.cfn_language_extensions.sam_integration import process_template_for_sam_cli
template = yaml_parse(open(sys.argv[1]).read())
print(json.dumps(process_template_for_sam_cli(template, parameter_values={"Stage": "dev"})["Resources"]))
"""


def test_expansion_resolves_to_what_the_sam_clis_does():
    if not SAM_PYTHON.exists():
        pytest.skip("SAM CLI not installed (make tools installs it in .tools)")
    result = subprocess.run(
        [str(SAM_PYTHON), "-c", _SAM_CLI_EXPANSION, str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=True,
        env={"SAM_CLI_TELEMETRY": "0", "PATH": "/usr/bin:/bin"},
    )
    theirs = json.loads(result.stdout)
    source = _source()
    ours = expand(source, {"Stage": "dev"})
    # The SAM CLI resolves parameters in the transform; the sandbox's Resolver does it afterwards. Refs to
    # resources stay refs in both.
    resolver = Resolver(ours, {"Stage": "dev"}, "us-east-1", "steward-dev")
    resolver.physical = {logical: {"Ref": {"Ref": logical}} for logical in ours["Resources"]}
    made = _made_by_loops(source, ours)
    assert made and set(made) <= set(theirs)
    for logical in made:
        assert resolver.resolve(ours["Resources"][logical]) == theirs[logical], logical


def test_translated_template_has_the_expanded_resources_and_no_language_extensions():
    cfn = translate(TEMPLATE, {"Stage": "dev"}, "us-east-1")
    assert "Transform" not in cfn
    alarm = cfn["Resources"]["SweepApprovalsErrorsAlarm"]["Properties"]
    assert alarm["Period"] == 900 and alarm["Dimensions"][0]["Value"] == {"Ref": "SweepApprovalsFunction"}


def _template(resources: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {"Transform": [TRANSFORM, "AWS::Serverless-2016-10-31"], "Resources": resources, **sections}


def test_nested_loops_substitute_keys_strings_refs_and_alphanumeric_ids():
    template = _template(
        {
            "Fn::ForEach::Topics": [
                "Env",
                ["dev", "prod-eu"],
                {
                    "Fn::ForEach::Kinds": [
                        "Kind",
                        ["a", "b"],
                        {
                            "Topic&{Env}${Kind}": {
                                "Type": "AWS::SNS::Topic",
                                "Properties": {
                                    "TopicName": {"Fn::Sub": "t-${Env}-${Kind}-${AWS::Region}"},
                                    "DisplayName": {"Ref": "Kind"},
                                },
                            }
                        },
                    ]
                },
            ]
        }
    )
    out = expand(template)
    assert out["Transform"] == "AWS::Serverless-2016-10-31"
    assert sorted(out["Resources"]) == ["Topicdeva", "Topicdevb", "Topicprodeua", "Topicprodeub"]
    props = out["Resources"]["Topicprodeub"]["Properties"]
    assert props == {"TopicName": {"Fn::Sub": "t-prod-eu-b-${AWS::Region}"}, "DisplayName": "b"}


def test_collection_from_a_comma_delimited_parameter_and_find_in_map_with_default():
    template = _template(
        {
            "Fn::ForEach::Queues": [
                "Name",
                {"Ref": "Names"},
                {
                    "${Name}Queue": {
                        "Type": "AWS::SQS::Queue",
                        "Properties": {
                            "DelaySeconds": {"Fn::FindInMap": ["Delays", {"Ref": "Name"}, "Seconds"]},
                            "VisibilityTimeout": {
                                "Fn::FindInMap": ["Delays", "${Name}", "Visibility", {"DefaultValue": 30}]
                            },
                        },
                    }
                },
            ]
        },
        Parameters={"Names": {"Type": "CommaDelimitedList", "Default": "A"}},
        Mappings={"Delays": {"A": {"Seconds": 1}, "B": {"Seconds": 2, "Visibility": 60}}},
    )
    out = expand(template, {"Names": "A, B"})
    assert out["Resources"] == {
        "AQueue": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": 1, "VisibilityTimeout": 30}},
        "BQueue": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": 2, "VisibilityTimeout": 60}},
    }


def test_ref_and_getatt_of_a_sub_name_the_resource():
    template = _template(
        {
            "Fn::ForEach::Alarms": [
                "F",
                ["One"],
                {
                    "${F}Alarm": {
                        "Type": "AWS::CloudWatch::Alarm",
                        "Properties": {
                            "Dimensions": [
                                {"Name": "FunctionName", "Value": {"Ref": {"Fn::Sub": "${F}Function"}}}
                            ],
                            "AlarmActions": [{"Fn::GetAtt": [{"Fn::Sub": "${F}Topic"}, "TopicArn"]}],
                        },
                    }
                },
            ]
        }
    )
    props = expand(template)["Resources"]["OneAlarm"]["Properties"]
    assert props["Dimensions"][0]["Value"] == {"Ref": "OneFunction"}
    assert props["AlarmActions"] == [{"Fn::GetAtt": ["OneTopic", "TopicArn"]}]


@pytest.mark.parametrize(
    ("resources", "parameters", "message"),
    [
        (
            {"Fn::ForEach::L": ["X", ["a", "b"], {"Same": {"Type": "AWS::SNS::Topic"}}]},
            {},
            "makes Same twice",
        ),
        ({"A": {"Type": "T"}, "Fn::ForEach::L": ["X", ["A"], {"${X}": {"Type": "T"}}]}, {}, "A twice"),
        ({"Fn::ForEach::L": ["Stage", ["a"], {"${Stage}T": {"Type": "T"}}]}, {"Stage": {}}, "parameter"),
        ({"Fn::ForEach::L": ["X", {"Fn::GetAtt": ["A", "B"]}, {"${X}": {"Type": "T"}}]}, {}, "collection"),
        ({"Fn::ForEach::L": ["X", ["a"]]}, {}, "takes [identifier"),
        (
            {"Fn::ForEach::L": ["X", ["a"], {"${X}": {"Fn::Length": [1]}}]},
            {},
            "does not implement Fn::Length",
        ),
        ({"Fn::ForEach::L": ["X", ["a"], {"${X}": {"Fn::FindInMap": ["M", "a", "k"]}}]}, {}, "no M.a.k"),
        ({"Fn::ForEach::L": ["X", ["a"], {"${X}": {"Ref": {"Fn::Sub": "${Stage}"}}}]}, {}, "literal Fn::Sub"),
    ],
)
def test_malformed_loops_are_refused_with_the_reason(tmp_path: Path, resources, parameters, message):
    text = json.dumps(_template(resources, Parameters=parameters))
    path = tmp_path / "template.json"
    path.write_text(text)
    with pytest.raises(TemplateError, match=re.escape(message)):
        translate(path, {}, "us-east-1")


def test_find_in_map_over_a_parameter_is_left_to_the_resolver():
    template = _template(
        {
            "Q": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"DelaySeconds": {"Fn::FindInMap": ["D", {"Ref": "Stage"}, "S"]}},
            }
        },
        Parameters={"Stage": {"Type": "String", "Default": "dev"}},
        Mappings={"D": {"dev": {"S": 1}, "prod": {"S": 5}}},
    )
    out = expand(template)
    delay = out["Resources"]["Q"]["Properties"]["DelaySeconds"]
    assert delay == {"Fn::FindInMap": ["D", {"Ref": "Stage"}, "S"]}
    assert Resolver(out, {"Stage": "prod"}, "us-east-1", "s").resolve(delay) == 5
