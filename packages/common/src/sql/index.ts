// A subpath of its own (@argon/common/sql), so importing the rest of @argon/common loads neither
// better-sqlite3 nor pg.
export { POSTGRES, SQLITE, type Dialect } from './dialect.js';
export { migrate, type Schema, type SchemaHistory } from './migrate.js';
export { databaseLocation, initialized, type DatabaseLocation, type LocationDefaults } from './open.js';
export { PostgresConnection } from './postgres.js';
export { SqliteConnection } from './sqlite.js';
export { SqlStore } from './store.js';
export { placeholders, query, script, type Connection, type Statement, type Steps } from './steps.js';
