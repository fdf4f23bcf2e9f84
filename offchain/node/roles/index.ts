// The registry of role services (issue 11 "The CLI"): `gridledger <role> --config F --data-dir D`
// exists for every `RoleDefinition` listed here (offchain/cli/services.ts). Each role module is
// written by its owner (offchain/node/roles/<role>.ts); a role appears here once it has landed.
import type { RoleDefinition } from "../service.ts";
import { bbnpUsersRole } from "./bbnp-users.ts";
import { ccRole } from "./cc.ts";
import { gatewayRole } from "./gateway.ts";
import { metersRole } from "./meters.ts";
import { nodeRole } from "./node.ts";
import { pingRole } from "./ping.ts";
import { spRole } from "./sp.ts";
import { taRole } from "./ta.ts";

/** Every role that can run as a process, in the order `gridledger --help` lists them. */
export const ROLES: readonly RoleDefinition<unknown>[] = [
  ccRole as RoleDefinition<unknown>,
  spRole as RoleDefinition<unknown>,
  metersRole as RoleDefinition<unknown>,
  gatewayRole as RoleDefinition<unknown>,
  nodeRole as RoleDefinition<unknown>,
  bbnpUsersRole as RoleDefinition<unknown>,
  taRole as RoleDefinition<unknown>,
  // Diagnostic (no protocol): checks the address book and restarts (`gridledger devnet --smoke`).
  pingRole,
];

/** The names of the roles issue 11 asks for (the devnet says which of them are not registered). */
export const PLANNED_ROLES: readonly string[] = [
  "cc",
  "sp",
  "meters",
  "gateway",
  "node",
  "bbnp-users",
  "ta",
];

/** The registered role named `role`, or undefined. */
export function findRole(role: string): RoleDefinition<unknown> | undefined {
  return ROLES.find((r) => r.role === role);
}
