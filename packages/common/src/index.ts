export { DataDirInUseError, lockDataDir, type LockOwner } from './datadir-lock.js';
