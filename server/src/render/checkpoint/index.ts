/**
 * A1111 single-file checkpoints (`models/Stable-diffusion/*.safetensors`): what the rest of the engine uses.
 * `loadCheckpoint` gives the architecture and a WeightSource over the file's own bytes; every failure is a
 * CheckpointError with one message. docs/checkpoints.md says what is read and where the tables come from.
 */
export { loadCheckpoint, LoadedCheckpoint, LoadOptions } from './loadCheckpoint';
export { loadVae, LoadedVae } from './vaeFile';
export { CombinedWeights } from './combinedWeights';
export { CheckpointError, CheckpointErrorCode } from './checkpointError';
export { assertUnchanged, CheckpointFile, openCheckpointFile } from './checkpointFile';
export { CheckpointWeights } from './checkpointWeights';
export { a1111ShortHash, legacyModelHash, sha256OfFile } from './checkpointHashes';
export { PredictionSource, SD2_V_PREDICTION_PROBE, sidecarConfigPath } from './prediction';
export { LdmTableEntry, ldmKeyTable } from './ldmKeyTable';
