// The IAM oracle (tests/unit/test_iam_oracle.py): @cloud-copilot/iam-simulate, pinned in package.json.
// Reads a JSON array of cases on stdin, {"statements": [...], "action", "resource", "context": {...}},
// each an identity policy of one role and one request in that role's account, and prints a JSON array of
// verdicts in the same order: {"verdict": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied"}, or
// {"error": ...} when the simulator refuses the case (an invalid policy, action or context key).
import { runSimulation } from '@cloud-copilot/iam-simulate'

const ACCOUNT = '123456789012'
let input = ''
for await (const chunk of process.stdin) input += chunk
const verdicts = []
for (const c of JSON.parse(input)) {
  const result = await runSimulation(
    {
      identityPolicies: [{ name: 'role', policy: { Version: '2012-10-17', Statement: c.statements } }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: c.action,
        principal: `arn:aws:iam::${ACCOUNT}:role/steward-oracle`,
        resource: { accountId: ACCOUNT, resource: c.resource },
        contextVariables: c.context || {},
      },
    },
    {},
  )
  verdicts.push(result.resultType === 'error' ? { error: result.errors } : { verdict: result.overallResult })
}
process.stdout.write(JSON.stringify(verdicts))
