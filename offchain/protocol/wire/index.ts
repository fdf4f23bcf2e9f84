// The wire layer: envelope, named errors and one codec per role message (docs/PROTOCOL.md
// "Wire messages").
export * from "./codec.ts";
export * from "./messages.ts";
