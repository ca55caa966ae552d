/** Version control on top of the branchable store: diffs and three-way merges. */
export { diffRefs, diffFields, type RefDiff, type CollectionDiff, type DocChange, type FieldChange, type ObjectChange } from './diff.js';
export { mergeBranches, revertRange, merge3, type MergeOptions, type MergeResult, type MergeConflict, type ValueConflict, type UniqueConflict, type MergeStrategy } from './merge.js';
