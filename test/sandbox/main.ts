import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { startFakeKms } from "./FakeKms.ts"
import { startFakeMailchimp } from "./FakeMailchimp.ts"
import { startFakeQuickBooks } from "./FakeQuickBooks.ts"
import { startFakeSquare } from "./FakeSquare.ts"
import { startFakeStripe } from "./FakeStripe.ts"

// npm run sandbox: every provider and KMS fake on fixed loopback ports, printed as the env that points the service
// at them and written to <SANDBOX_DATA_DIR>/env for `set -a; . <that file>; set +a`. The fake KMS keeps its keys in
// <SANDBOX_DATA_DIR>/kms-keys.json, so what the service sealed still opens after a restart of the sandbox.
const port = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number`)
  return value
}
const dataDir = process.env.SANDBOX_DATA_DIR ?? "./.data/sandbox"
const envFile = join(dataDir, "env")
const stripeKey = process.env.SANDBOX_STRIPE_KEY ?? "sk_test_sandboxDemoVenue0123456789abcdef"
const kmsKeyId = process.env.SANDBOX_KMS_KEY_ID ?? "sandbox-master-key"
const region = "us-east-1"
// Where the service will listen (its PORT), for the OAuth redirect URIs.
const publicBaseUrl = `http://127.0.0.1:${port("PORT", 8080)}`

mkdirSync(dataDir, { recursive: true, mode: 0o700 })
const stripe = await startFakeStripe({ port: port("SANDBOX_STRIPE_PORT", 12111) })
const kms = await startFakeKms({
  port: port("SANDBOX_KMS_PORT", 12112),
  keys: [kmsKeyId],
  region,
  keyFile: join(dataDir, "kms-keys.json")
})
const square = await startFakeSquare({ port: port("SANDBOX_SQUARE_PORT", 12113) })
const quickBooks = await startFakeQuickBooks({ port: port("SANDBOX_QUICKBOOKS_PORT", 12114) })
const mailchimp = await startFakeMailchimp({ port: port("SANDBOX_MAILCHIMP_PORT", 12115) })
const { accountId } = stripe.addKey(stripeKey, { name: "Sandbox Demo Venue" })
// Demo data for a first sync: every entity type of each provider's default account (the one its consent page picks).
const seed = Number(process.env.SANDBOX_SEED ?? 50)
if (!Number.isInteger(seed) || seed < 0) throw new Error("SANDBOX_SEED must be a count")
for (const entity of ["customer", "product", "order", "invoice", "payment"] as const) {
  stripe.seed(accountId, entity, seed)
  quickBooks.seed(quickBooks.realmId, entity, seed)
  if (entity !== "invoice") square.seed(square.merchantId, entity, seed)
}
mailchimp.seed(mailchimp.accountId, "contact", seed)

const env = `STRIPE_API_BASE_URL=${stripe.url}
KMS_KEY_ID=${kmsKeyId}
KMS_ENDPOINT=${kms.url}
AWS_REGION=${region}
AWS_ACCESS_KEY_ID=AKIDSANDBOX
AWS_SECRET_ACCESS_KEY=sandbox-secret
SQUARE_BASE_URL=${square.url}
SQUARE_CLIENT_ID=${square.clientId}
SQUARE_CLIENT_SECRET=${square.clientSecret}
QUICKBOOKS_BASE_URL=${quickBooks.url}
QUICKBOOKS_OAUTH_BASE_URL=${quickBooks.url}
QUICKBOOKS_CLIENT_ID=${quickBooks.clientId}
QUICKBOOKS_CLIENT_SECRET=${quickBooks.clientSecret}
MAILCHIMP_OAUTH_BASE_URL=${mailchimp.url}
MAILCHIMP_CLIENT_ID=${mailchimp.clientId}
MAILCHIMP_CLIENT_SECRET=${mailchimp.clientSecret}
PUBLIC_BASE_URL=${publicBaseUrl}
`
// Written whole or not at all: a reader waiting for the file never sees half of it.
writeFileSync(`${envFile}.tmp`, env, { mode: 0o600 })
renameSync(`${envFile}.tmp`, envFile)

console.log(`# Sandbox fakes are listening. Start the service with this environment (also in ${envFile}):
${env}# Credentials are sealed by the fake KMS, whose keys are kept in ${join(dataDir, "kms-keys.json")}:
# start the service with this environment from its first run, and keep it.
# Each provider's demo account holds ${seed} records of every entity type it syncs (SANDBOX_SEED).
# Demo Stripe key (account ${accountId}), for POST /api/v1/integrations/connect/stripe:
# ${stripeKey}
# The Square, QuickBooks and Mailchimp authorize pages approve at once (curl -sL follows them back to the service).
# Ctrl-C (or kill ${process.pid}) stops the sandbox; OAuth grants live in its memory and end with it.`)

const shutdown = async () => {
  rmSync(envFile, { force: true })
  await Promise.all([stripe.close(), kms.close(), square.close(), quickBooks.close(), mailchimp.close()])
  process.exit(0)
}
process.once("SIGINT", shutdown)
process.once("SIGTERM", shutdown)
