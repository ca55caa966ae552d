import { ArgonError } from '../errors.js';

/**
 * Argon's three roles, from the design: a viewer reads data, diffs and logs; a developer also
 * writes and branches, merges, reverts and tags; an admin does everything, including users,
 * protected branches and merge gates.
 */
export type Role = 'viewer' | 'developer' | 'admin';

const RANK: Record<Role, number> = { viewer: 0, developer: 1, admin: 2 };

/** A role granted to a user as MongoDB writes it: `{role, db}`. */
export interface RoleGrant {
  role: string;
  db: string;
}

/**
 * What each grantable role means. Argon's own roles and MongoDB's "any database" roles hold on
 * every database (and for the version-control commands); MongoDB's database roles hold only on
 * the database they were granted on, so `readWrite@shop` writes `shop` but cannot branch.
 */
const GRANTABLE: Record<string, { role: Role; everywhere: boolean }> = {
  viewer: { role: 'viewer', everywhere: true },
  developer: { role: 'developer', everywhere: true },
  admin: { role: 'admin', everywhere: true },
  read: { role: 'viewer', everywhere: false },
  readWrite: { role: 'developer', everywhere: false },
  dbAdmin: { role: 'developer', everywhere: false },
  dbOwner: { role: 'developer', everywhere: false },
  readAnyDatabase: { role: 'viewer', everywhere: true },
  readWriteAnyDatabase: { role: 'developer', everywhere: true },
  dbAdminAnyDatabase: { role: 'developer', everywhere: true },
  userAdminAnyDatabase: { role: 'admin', everywhere: true },
  clusterAdmin: { role: 'admin', everywhere: true },
  root: { role: 'admin', everywhere: true },
};

export function isRole(value: unknown): value is Role {
  return value === 'viewer' || value === 'developer' || value === 'admin';
}

export function roleAllows(held: Role | null, needed: Role): boolean {
  return held !== null && RANK[held] >= RANK[needed];
}

export function lowerRole(a: Role, b: Role): Role {
  return RANK[a] <= RANK[b] ? a : b;
}

/** Parses `createUser`'s roles: names (on the command's database) or `{role, db}` documents. */
export function parseGrants(value: unknown, db: string): RoleGrant[] {
  if (!Array.isArray(value)) throw new ArgonError('BadValue', "'roles' must be an array");
  return value.map((entry) => {
    const grant =
      typeof entry === 'string'
        ? { role: entry, db }
        : entry && typeof entry === 'object' && typeof entry.role === 'string' && typeof entry.db === 'string'
          ? { role: entry.role as string, db: entry.db as string }
          : undefined;
    if (!grant) throw new ArgonError('BadValue', 'a role must be a name or a {role, db} document');
    if (!Object.prototype.hasOwnProperty.call(GRANTABLE, grant.role)) {
      throw new ArgonError('RoleNotFound', `Could not find role: ${grant.role}@${grant.db}`);
    }
    return grant;
  });
}

/**
 * The role a user holds for a command: its server-wide grants, plus grants on the command's
 * database unless the command is a server-wide (admin database) one.
 */
export function effectiveRole(grants: readonly RoleGrant[], db: string, serverWide: boolean): Role | null {
  let best: Role | null = null;
  for (const grant of grants) {
    const meaning = GRANTABLE[grant.role];
    if (!meaning) continue;
    if (!meaning.everywhere && (serverWide || grant.db !== db)) continue;
    if (best === null || RANK[meaning.role] > RANK[best]) best = meaning.role;
  }
  return best;
}

/** The highest server-wide role of a user: what an API key it creates may carry at most. */
export function serverRole(grants: readonly RoleGrant[]): Role | null {
  return effectiveRole(grants, 'admin', true);
}
