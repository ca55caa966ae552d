/** Version control on top of the branchable store: diffs, three-way merges, merge gates and manual merges. */
export { diffRefs, diffFields, type RefDiff, type CollectionDiff, type DocChange, type FieldChange, type ObjectChange } from './diff.js';
export {
  mergeBranches,
  revertRange,
  merge3,
  type MergeOptions,
  type MergeResult,
  type MergeConflict,
  type ValueConflict,
  type UniqueConflict,
  type MergeStrategy,
  type Resolution,
  type Resolver,
  type Settlement,
} from './merge.js';
export { branchGates, setGate, removeGate, parseGate, type Gate, type GateKind, type GateReport } from './gates.js';
export { startManualMerge, resolveConflict, abortMerge, pendingMerge, type PendingMerge, type PendingConflict, type Take } from './manual.js';
