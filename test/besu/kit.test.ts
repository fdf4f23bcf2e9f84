// The Besu kit's files (offchain/besu/kit.ts, genesis.ts, versions.ts): every config parses and
// points at files of the kit, the allowlists and bootnodes are consistent with the node keys, the
// genesis has what DESIGN §2 "Besu" asks for on each Besu version, and bad input is refused with a
// named error.
import { expect } from "chai";
import { load as loadYaml } from "js-yaml";
import { posix } from "node:path";
import { parse as parseToml } from "smol-toml";

import {
  BesuKitOptionError,
  BesuKitPortError,
  BesuKitValidatorCountError,
  BesuKitVersionError,
} from "../../offchain/besu/errors.ts";
import { decodeQbftExtraData } from "../../offchain/besu/extra-data.ts";
import {
  BLOCK_GAS_LIMIT,
  CONSOLIDATION_REQUEST_CONTRACT_ADDRESS,
  CONSOLIDATION_REQUEST_CONTRACT_CODE,
  DEPOSIT_CONTRACT_ADDRESS,
  QBFT_MIX_HASH,
  WITHDRAWAL_REQUEST_CONTRACT_ADDRESS,
  WITHDRAWAL_REQUEST_CONTRACT_CODE,
} from "../../offchain/besu/genesis.ts";
import {
  BESU_KIT_DEFAULTS,
  checkBesuKitInit,
  KIT_ROLES,
  REGISTRY_ADDRESS,
} from "../../offchain/besu/kit.ts";
import { parseKeyFile } from "../../offchain/besu/node-keys.ts";
import { besuPraguePlan, DEFAULT_BESU_VERSION } from "../../offchain/besu/versions.ts";
import { testKit } from "./kit-fixture.ts";

const FORK_BLOCKS = [
  "homesteadBlock",
  "eip150Block",
  "eip155Block",
  "eip158Block",
  "byzantiumBlock",
  "constantinopleBlock",
  "petersburgBlock",
  "istanbulBlock",
  "muirGlacierBlock",
  "berlinBlock",
  "londonBlock",
  "arrowGlacierBlock",
  "grayGlacierBlock",
];

describe("besu: network kit", () => {
  const kit = testKit({ validators: 5, members: 2, chainId: 4242, blockPeriodSeconds: 3 });
  const m = kit.manifest;

  it("has a key, public key, address, enode, config and allowlist per node, BLS keys per validator", () => {
    expect(m.nodes.map((n) => n.name)).to.deep.equal([
      "validator-0",
      "validator-1",
      "validator-2",
      "validator-3",
      "validator-4",
      "member-0",
      "member-1",
    ]);
    for (const n of m.nodes) {
      for (const f of [
        "key",
        "key.pub",
        "address",
        "enode",
        "config.toml",
        "permissions_config.toml",
      ]) {
        expect(kit.paths.has(`${n.name}/${f}`), `${n.name}/${f}`).to.equal(true);
      }
      expect(kit.paths.has(`${n.name}/bls.key`)).to.equal(n.validator);
      const key = parseKeyFile(kit.file(`${n.name}/key`));
      expect(key.address).to.equal(n.address);
      expect(kit.file(`${n.name}/key.pub`).trim()).to.equal(key.publicKey);
      expect(kit.file(`${n.name}/address`).trim()).to.equal(key.address);
      expect(kit.file(`${n.name}/enode`).trim()).to.equal(n.enode);
    }
    expect(JSON.parse(kit.file("kit.json"))).to.deep.equal(m);
  });

  it("secret key files are owner-only; the start script is executable", () => {
    for (const f of kit.files) {
      const secret = /(^|\/)(key|bls\.key)$/.test(f.path) || f.path.startsWith("accounts/");
      if (secret) expect(f.mode, f.path).to.equal(0o600);
      else expect(f.mode & 0o644, f.path).to.equal(0o644);
    }
    expect(kit.files.filter((f) => f.mode === 0o600)).to.have.length(7 + 5 + 4); // node keys, BLS keys, roles
    expect(kit.files.find((f) => f.path === "start-local.sh")!.mode).to.equal(0o755);
  });

  it("validators are the first nodes, ascending by address (Besu's order)", () => {
    const validators = m.nodes.filter((n) => n.validator).map((n) => n.address);
    expect(m.validators).to.deep.equal(validators);
    const sorted = [...validators].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
    expect(validators).to.deep.equal(sorted);
    expect(new Set(validators.map((v) => v.toLowerCase())).size).to.equal(5);
  });

  it("every config.toml parses and points at files of the kit; ports and host match the enode", () => {
    for (const n of m.nodes) {
      const config = parseToml(kit.file(`${n.name}/config.toml`));
      for (const key of [
        "genesis-file",
        "node-private-key-file",
        "permissions-nodes-config-file",
        "permissions-accounts-config-file",
      ]) {
        const target = posix.normalize(posix.join(n.name, String(config[key])));
        expect(kit.paths.has(target), `${n.name}: ${key} → ${target}`).to.equal(true);
      }
      expect(config["data-path"]).to.equal("data");
      expect(config["p2p-port"]).to.equal(n.p2pPort);
      expect(config["rpc-http-port"]).to.equal(n.rpcPort);
      expect(n.enode).to.equal(
        `enode://${parseKeyFile(kit.file(`${n.name}/key`)).enodeId}@${config["p2p-host"]}:${n.p2pPort}`,
      );
      expect(config["rpc-http-api"]).to.include.members(["ETH", "NET", "QBFT"]);
      expect(config["min-gas-price"]).to.equal(0);
      expect(config["permissions-nodes-config-file-enabled"]).to.equal(true);
      expect(config["permissions-accounts-config-file-enabled"]).to.equal(true);
    }
    const ports = m.nodes.flatMap((n) => [n.p2pPort, n.rpcPort]);
    expect(new Set(ports).size).to.equal(ports.length);
  });

  it("nodes-allowlist is exactly the nodes' enodes, each derived from a node key; bootnodes are in it", () => {
    const derived = m.nodes.map((n) => {
      const key = parseKeyFile(kit.file(`${n.name}/key`));
      return `enode://${key.enodeId}@127.0.0.1:${n.p2pPort}`;
    });
    for (const n of m.nodes) {
      const perms = parseToml(kit.file(`${n.name}/permissions_config.toml`));
      expect(perms["nodes-allowlist"]).to.deep.equal(derived);
      const bootnodes = parseToml(kit.file(`${n.name}/config.toml`)).bootnodes as string[];
      expect(bootnodes.length).to.be.greaterThan(0);
      for (const b of bootnodes) expect(perms["nodes-allowlist"]).to.include(b);
      expect(bootnodes).to.deep.equal(m.bootnodes);
    }
  });

  it("accounts-allowlist is the role accounts (whose keys are in accounts/) and the validators", () => {
    const roles = KIT_ROLES.map((r) => {
      const key = parseKeyFile(kit.file(`accounts/${r}.key`));
      expect(key.address).to.equal(m.accounts[r]);
      return key.address.toLowerCase();
    });
    const perms = parseToml(kit.file("validator-0/permissions_config.toml"));
    expect(perms["accounts-allowlist"]).to.deep.equal([
      ...roles,
      ...m.validators.map((v) => v.toLowerCase()),
    ]);
  });

  it("genesis: chain id, every fork through Prague at 0, zero base fee, 30M gas, QBFT constants", () => {
    const g = JSON.parse(kit.file("genesis.json"));
    expect(g.config.chainId).to.equal(4242);
    for (const fork of FORK_BLOCKS) expect(g.config[fork], fork).to.equal(0);
    for (const fork of ["shanghaiTime", "cancunTime", "pragueTime"])
      expect(g.config[fork], fork).to.equal(0);
    expect(g.config.zeroBaseFee).to.equal(true);
    expect(BigInt(g.gasLimit)).to.equal(BigInt(BLOCK_GAS_LIMIT));
    expect(BLOCK_GAS_LIMIT).to.equal(30_000_000);
    expect(g.difficulty).to.equal("0x1");
    expect(g.mixHash).to.equal(QBFT_MIX_HASH);
    expect(g.config.qbft.blockperiodseconds).to.equal(3);
    expect(g.config.qbft.requesttimeoutseconds).to.be.at.least(2 * 3);
    expect(g.config.qbft.epochlength).to.be.a("number").and.above(0);
    const x = decodeQbftExtraData(g.extraData);
    expect(x.validators).to.deep.equal(m.validators);
    expect(x.vote).to.equal(null);
    expect(x.round).to.equal(0);
  });

  it("genesis: the registry is in alloc with code and storage, and a transition > 0 selects it", () => {
    const g = JSON.parse(kit.file("genesis.json"));
    expect(g.config.transitions.qbft).to.deep.equal([
      {
        block: 1,
        validatorselectionmode: "contract",
        validatorcontractaddress: REGISTRY_ADDRESS.toLowerCase(),
      },
    ]);
    const registry = g.alloc[REGISTRY_ADDRESS];
    expect(registry.code).to.match(/^0x[0-9a-f]{1000,}$/);
    expect(Object.keys(registry.storage).length).to.be.greaterThan(10);
    expect(testKit({ contractBlock: 100 }).genesis.config.transitions).to.deep.equal({
      qbft: [
        {
          block: 100,
          validatorselectionmode: "contract",
          validatorcontractaddress: REGISTRY_ADDRESS.toLowerCase(),
        },
      ],
    });
  });

  it("docker-compose.yml parses, uses the pinned image and runs every node in its directory", () => {
    const compose = loadYaml(kit.file("docker-compose.yml")) as {
      services: Record<
        string,
        { image: string; working_dir: string; command: string[]; volumes: string[] }
      >;
    };
    expect(Object.keys(compose.services)).to.deep.equal(m.nodes.map((n) => n.name));
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.image).to.equal(`hyperledger/besu:${DEFAULT_BESU_VERSION}`);
      expect(s.volumes).to.deep.equal(["./:/kit"]);
      expect(s.working_dir).to.equal(`/kit/${name}`);
      expect(s.command).to.deep.equal(["--config-file=config.toml"]);
      expect(kit.paths.has(`${name}/config.toml`)).to.equal(true);
    }
  });

  it("the start script and README name every node, the pinned version and the check call", () => {
    const script = kit.file("start-local.sh");
    for (const n of m.nodes) expect(script).to.include(`cd ${n.name} &&`);
    const readme = kit.file("README.md");
    for (const s of [
      "qbft_getValidatorsByBlockNumber",
      "npx gridledger deploy --kit",
      DEFAULT_BESU_VERSION,
      REGISTRY_ADDRESS,
    ]) {
      expect(readme).to.include(s);
    }
  });

  it("is reproducible from its random source and differs across sources", () => {
    expect(testKit({}, "a").files).to.deep.equal(testKit({}, "a").files);
    expect(testKit({}, "a").manifest.validators).not.to.deep.equal(
      testKit({}, "b").manifest.validators,
    );
  });
});

describe("besu: Prague per Besu version", () => {
  it("25.5–25.12: the three system-contract addresses in config and code at EIP-7002/7251", () => {
    for (const version of ["25.5.0", "25.8.1", "25.12.0"]) {
      const g = testKit({ besuVersion: version }).genesis;
      expect(g.config.depositContractAddress).to.equal(DEPOSIT_CONTRACT_ADDRESS.toLowerCase());
      expect(g.config.withdrawalRequestContractAddress).to.equal(
        WITHDRAWAL_REQUEST_CONTRACT_ADDRESS.toLowerCase(),
      );
      expect(g.config.consolidationRequestContractAddress).to.equal(
        CONSOLIDATION_REQUEST_CONTRACT_ADDRESS.toLowerCase(),
      );
      expect(g.alloc[WITHDRAWAL_REQUEST_CONTRACT_ADDRESS].code).to.equal(
        WITHDRAWAL_REQUEST_CONTRACT_CODE,
      );
      expect(g.alloc[CONSOLIDATION_REQUEST_CONTRACT_ADDRESS].code).to.equal(
        CONSOLIDATION_REQUEST_CONTRACT_CODE,
      );
      expect(g.config.pragueTime).to.equal(0);
    }
  });

  it("26.2 and later: pragueTime alone, no system contracts", () => {
    for (const version of ["26.2.0", DEFAULT_BESU_VERSION]) {
      const g = testKit({ besuVersion: version }).genesis;
      expect(g.config.pragueTime).to.equal(0);
      for (const key of [
        "depositContractAddress",
        "withdrawalRequestContractAddress",
        "consolidationRequestContractAddress",
      ]) {
        expect(g.config).not.to.have.property(key);
      }
      expect(g.alloc).not.to.have.property(WITHDRAWAL_REQUEST_CONTRACT_ADDRESS);
      expect(g.alloc).not.to.have.property(CONSOLIDATION_REQUEST_CONTRACT_ADDRESS);
    }
    expect(DEFAULT_BESU_VERSION).to.match(/^26\./);
  });

  it("an unknown or malformed version is a named error", () => {
    for (const version of ["25.4.0", "26.1.0", "26.10.0", "27.0.0", "latest", "26.9", "v26.9.0"]) {
      expect(() => besuPraguePlan(version), version).to.throw(BesuKitVersionError);
    }
  });
});

describe("besu: kit options", () => {
  const ok = BESU_KIT_DEFAULTS;
  it("refuses fewer than 4 validators", () => {
    for (const validators of [0, 1, 3, 3.5]) {
      expect(() => checkBesuKitInit({ ...ok, validators })).to.throw(BesuKitValidatorCountError);
    }
    expect(() => checkBesuKitInit({ ...ok, validators: 4 })).not.to.throw();
  });

  it("refuses a port range outside [1, 65535] or overlapping ranges", () => {
    for (const bad of [{ p2pPort: 0 }, { rpcPort: 65533 }, { p2pPort: 70000 }, { p2pPort: 8546 }]) {
      expect(() => checkBesuKitInit({ ...ok, ...bad }), JSON.stringify(bad)).to.throw(
        BesuKitPortError,
      );
    }
    expect(() => checkBesuKitInit({ ...ok, rpcPort: 65532 })).not.to.throw(); // 65532..65535
  });

  it("refuses a bad chain id, block period, member count, host or transition block", () => {
    for (const bad of [
      { chainId: 0 },
      { blockPeriodSeconds: 0 },
      { members: -1 },
      { host: "localhost" },
      { host: "300.1.1.1" },
      { contractBlock: 0 },
    ]) {
      expect(() => checkBesuKitInit({ ...ok, ...bad }), JSON.stringify(bad)).to.throw(
        BesuKitOptionError,
      );
    }
  });

  it("refuses an unknown Besu version", () => {
    expect(() => checkBesuKitInit({ ...ok, besuVersion: "24.12.0" })).to.throw(BesuKitVersionError);
  });
});
