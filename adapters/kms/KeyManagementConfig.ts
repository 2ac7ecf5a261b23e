import { Config, Effect, Layer, Option } from "effect"
import { AwsKeyManagement } from "./AwsKeyManagement.ts"
import { EnvelopeCredentialVault } from "./EnvelopeCredentialVault.ts"
import { LocalKeyring } from "./LocalKeyring.ts"

/** AWS KMS when `KMS_KEY_ID` is set (with `AWS_REGION`, optional `KMS_ENDPOINT`), else the local keyring. */
export const layerKeyManagementFromConfig = Layer.unwrap(
  Effect.map(Config.option(Config.String("KMS_KEY_ID")), (keyId) =>
    Option.isSome(keyId) ? AwsKeyManagement.layerConfig : LocalKeyring.layerConfig
  )
)

/** The credential vault over the configured key management; KeyManagement stays available (health ping). */
export const layerVaultFromConfig = EnvelopeCredentialVault.layer.pipe(Layer.provideMerge(layerKeyManagementFromConfig))
