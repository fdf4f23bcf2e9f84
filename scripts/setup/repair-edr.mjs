#!/usr/bin/env node
// Postinstall repair for Hardhat's native EDR binding.
//
// Why: the machines run Node 20, and npm on Node 20 skips @nomicfoundation/edr's platform
// package (an optionalDependency whose `engines` says node >= 22). The project itself runs on
// the Node 22 that the `node` devDependency provides, so the binding is needed. This script
// finds the platform package EDR would load, and if it is missing, fetches exactly the version
// EDR pins from the npm registry (`npm pack`) and unpacks it beside EDR. Idempotent; plain ESM
// that runs on Node 20 and 22; no network but the npm registry.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function log(msg) {
  console.log(`repair-edr: ${msg}`);
}

function isMusl() {
  if (process.platform !== "linux") return false;
  const report = process.report?.getReport?.();
  return !(report && report.header && report.header.glibcVersionRuntime);
}

function platformPackage() {
  const { platform, arch } = process;
  if (platform === "linux")
    return `@nomicfoundation/edr-linux-${arch}-${isMusl() ? "musl" : "gnu"}`;
  if (platform === "darwin") return `@nomicfoundation/edr-darwin-${arch}`;
  if (platform === "win32") return `@nomicfoundation/edr-win32-${arch}-msvc`;
  throw new Error(`repair-edr: unsupported platform ${platform}-${arch}`);
}

// EDR's `exports` hide package.json from require.resolve, so look where npm puts it: hoisted, or
// nested under hardhat.
const edrPkgPath = [
  join(root, "node_modules", "@nomicfoundation", "edr", "package.json"),
  join(root, "node_modules", "hardhat", "node_modules", "@nomicfoundation", "edr", "package.json"),
].find((p) => existsSync(p));
if (!edrPkgPath) {
  log("@nomicfoundation/edr is not installed; nothing to repair");
  process.exit(0);
}
const edrDir = dirname(edrPkgPath);
const edrPkg = JSON.parse(readFileSync(edrPkgPath, "utf8"));
const name = platformPackage();
const version = edrPkg.optionalDependencies?.[name];
if (!version) throw new Error(`repair-edr: EDR ${edrPkg.version} has no binding for ${name}`);

// Unpack into the node_modules that holds @nomicfoundation/edr, so EDR's require finds it.
const nodeModules = join(edrDir, "..", "..");
const dest = join(nodeModules, ...name.split("/"));
try {
  const found = JSON.parse(readFileSync(join(dest, "package.json"), "utf8"));
  if (found.version === version) {
    log(`${name}@${version} present`);
    process.exit(0);
  }
  log(`${name} is ${found.version}, EDR wants ${version}; replacing`);
} catch {
  log(`${name}@${version} missing (npm skips it when npm itself runs on Node < 22); fetching`);
}

const work = mkdtempSync(join(tmpdir(), "repair-edr-"));
try {
  const npmCli = process.env.npm_execpath;
  const packArgs = ["pack", `${name}@${version}`, "--pack-destination", work, "--silent"];
  if (npmCli && npmCli.endsWith(".js")) {
    execFileSync(process.execPath, [npmCli, ...packArgs], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  } else {
    execFileSync(process.platform === "win32" ? "npm.cmd" : "npm", packArgs, {
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error(`repair-edr: npm pack produced no tarball for ${name}@${version}`);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  execFileSync("tar", ["-xzf", join(work, tarball), "-C", dest, "--strip-components=1"]);
  if (!existsSync(join(dest, "package.json")))
    throw new Error(`repair-edr: unpacking ${tarball} failed`);
  log(`installed ${name}@${version} into ${dest}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
