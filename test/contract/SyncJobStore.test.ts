import { memorySyncStack, postgresSyncStack } from "./SyncContractSupport.ts"
import { syncJobStoreContract } from "./SyncJobStoreContract.ts"

syncJobStoreContract("MemorySyncJobStore", memorySyncStack)
syncJobStoreContract("PostgresSyncJobStore as the service role", postgresSyncStack)
