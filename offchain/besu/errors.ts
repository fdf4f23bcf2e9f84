// Typed errors of the Besu network kit (DESIGN §2 "Besu"). Every refusal of `gridledger
// besu-network` is one of these, so the CLI prints `gridledger besu-network: <Name>: <message>` on
// one line and exits non-zero (docs/BESU.md "Errors").

/** Base class: anything the kit refuses. */
export class BesuKitError extends Error {
  override name = "BesuKitError";
}

/** Fewer than 4 validators (QBFT tolerates f faults with 3f + 1 validators; 4 is the minimum). */
export class BesuKitValidatorCountError extends BesuKitError {
  override name = "BesuKitValidatorCountError";
}

/** A port (or the range base + node count) outside [1, 65535], or RPC and P2P ranges overlapping. */
export class BesuKitPortError extends BesuKitError {
  override name = "BesuKitPortError";
}

/** Any other out-of-range option: chain id, block period, member count, host, transition block. */
export class BesuKitOptionError extends BesuKitError {
  override name = "BesuKitOptionError";
}

/** A Besu version the kit was not checked against (or not a version string). */
export class BesuKitVersionError extends BesuKitError {
  override name = "BesuKitVersionError";
}

/**
 * The output directory exists and is not empty, and `--force` was not given; or, with `--force`,
 * it is not a kit written before or it holds the working directory.
 */
export class BesuKitOutputExistsError extends BesuKitError {
  override name = "BesuKitOutputExistsError";
}

/** The kit cannot be written at `--out` (the folder cannot be created, no permission, …). */
export class BesuKitOutputError extends BesuKitError {
  override name = "BesuKitOutputError";
}

/** The compiled registry does not match what the kit lays out (storage layout, artifact). */
export class BesuKitRegistryError extends BesuKitError {
  override name = "BesuKitRegistryError";
}

/** A QBFT `extraData` that is not QBFT's RLP form (e.g. the IBFT 2.0 form), or bad fields. */
export class QbftExtraDataError extends BesuKitError {
  override name = "QbftExtraDataError";
}

/** A storage value that does not fit its Solidity storage type, or a variable left unset. */
export class StorageLayoutError extends BesuKitError {
  override name = "StorageLayoutError";
}
