import { memorySyncStack, postgresSyncStack } from "./SyncContractSupport.ts"
import { syncRecordsContract } from "./SyncRecordsContract.ts"

syncRecordsContract("MemorySyncRecords", memorySyncStack, { runs: 100 })
syncRecordsContract("PostgresSyncRecords as the service role", postgresSyncStack, { runs: 25 })
