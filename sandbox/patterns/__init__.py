"""EventBridge event-pattern matching for routing sandbox events, conformant with aws/event-ruler.

aws/event-ruler is the engine behind EventBridge patterns; this package follows its `Machine` (what
`Ruler.matchesRule` and `rulesForJSONEvent` run) and its `JsonRuleCompiler`; it agreed with all 1,904
applicable verdicts of event-ruler's own test suite when last checked (README "The sandbox"). Ruler's
behaviour, including where it surprises, is kept; the points that matter most:

- Both the pattern and the event are flattened into dotted paths: a key "a.b" and a nested key "b"
  inside "a" are the same field, in patterns and in events alike.
- Every path of a pattern must match (AND); a leaf is an array of alternatives (OR); "$or" splits the
  pattern into sub-rules (a later duplicate path overwrites an earlier one, as in Ruler's compiler), and
  the pattern matches if any sub-rule does.
- Array consistency: the fields one sub-rule matches must come from the same element of every event
  array they share. Scalars inside an array are not told apart. A path's "exists": false holds when no
  field of that path is consistent with the fields matched before it, the paths being taken in sorted
  order - so, as in Ruler, which element an absence is checked against depends on that order.
- Only leaves carry values: an object, an empty array or a missing key gives no field, so value
  operators and "exists": true fail there and "exists": false holds.
- Numbers are compared as doubles and only when the JSON number is one a double holds exactly (Ruler's
  ComparableNumber); other numbers only ever equal themselves.
- Case-insensitive operators work per UTF-16 character of the pattern, which matches the character's
  Java lower-case or upper-case form (Locale.ROOT): pattern "straße" matches "STRASSE", but pattern
  "STRASSE" does not match "straße"; a character outside the BMP is two surrogates that Java encodes as
  "?" each, so it only ever matches "??" (a Ruler quirk, kept).
- "cidr" and string alternatives that are IP addresses compare addresses (IPv4-mapped IPv6 addresses
  count as IPv4; no embedded dotted quads). The address ranges are walked digit by digit as in Ruler, so
  a range can match a number whose text starts with digits inside it when no numeric alternative shares
  the path (another Ruler quirk, kept).

The parts: validate.py (what Ruler's JsonRuleCompiler accepts), compiler.py (a pattern into sub-rules of
matchers), match.py (an event flattened and matched, array consistency), values.py (numbers, case,
wildcards, addresses as Ruler compares them), shared.py (operators, PatternError, Java string behaviour).
"""

from sandbox.patterns.match import matches
from sandbox.patterns.shared import PatternError
from sandbox.patterns.validate import validate_pattern

__all__ = ["PatternError", "matches", "validate_pattern"]
