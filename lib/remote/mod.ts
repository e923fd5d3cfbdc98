/**
 * Remotes: sharing sealed specimens through S3-compatible object storage or
 * a shared folder, with no server of ours. `pushSpecimens`, `pullSpecimens`,
 * `remoteStatus`, the remotes of `vault.config.json`, and the layout a
 * remote holds (docs/TEAM.md).
 *
 * @example
 * ```ts ignore
 * import { addRemote, findRemote, pushSpecimens } from "./mod.ts";
 * await addRemote(".", { name: "origin", url: "s3://lab/vault", endpoint: "https://s3.example.org" });
 * await pushSpecimens({ vault: ".", remote: await findRemote(".") });
 * ```
 *
 * @module
 */
export {
  addRemote,
  CONFIG_FILE,
  findRemote,
  type NamedRemote,
  parseRemoteUrl,
  readRemotes,
  type RemoteConfig,
  type RemoteLocation,
  removeRemote,
  validateRemoteName,
} from "./config.ts";
export { RemoteAccessError, RemoteError } from "./errors.ts";
export { type Origin, ORIGIN_FILE, readOrigin } from "../specimen/origin.ts";
export {
  type PushedSpecimen,
  type PushOptions,
  pushSpecimens,
  type TransferProgress,
} from "./push.ts";
export {
  type PulledSpecimen,
  type PullOptions,
  pullSpecimens,
} from "./pull.ts";
export { type RemoteStatus, remoteStatus } from "./status.ts";
export { openStore } from "./open.ts";
export type { RemoteObject, RemoteStore } from "./store.ts";
export { progressText, transferExitCode, transferTable } from "./report.ts";
