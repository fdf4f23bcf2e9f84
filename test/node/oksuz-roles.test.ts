// The Oksuz role services (offchain/node/roles/{cc,sp,meters}.ts) as the runner would build them:
// CC, SP and a 6-meter fleet, each with its own config and secrets from `oksuzSetup`, talking over
// real SocketTransports on 127.0.0.1 with the SystemClock, in one process against the in-process
// chain. Two intervals; the chain's events are reconciled with what the agents computed.
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";

import { connectBillingLedger } from "../../offchain/chain/billing.ts";
import { deployBillingLedger } from "../../offchain/chain/deploy.ts";
import { readInterval } from "../../offchain/chain/ledgerReader.ts";
import { createCcService } from "../../offchain/node/roles/cc.ts";
import { createMetersService } from "../../offchain/node/roles/meters.ts";
import { ccRole } from "../../offchain/node/roles/cc.ts";
import { metersRole } from "../../offchain/node/roles/meters.ts";
import { spRole, createSpService } from "../../offchain/node/roles/sp.ts";
import type { OksuzChainAccess } from "../../offchain/node/roles/oksuz-chain.ts";
import { oksuzSetup, type OksuzProcessSetup } from "../../offchain/node/roles/oksuz-setup.ts";
import { ServiceConfigError, type ServiceEnv } from "../../offchain/node/service.ts";
import { SystemClock } from "../../offchain/runtime/clock.ts";
import { silentLogger } from "../../offchain/runtime/log.ts";
import { createRng } from "../../offchain/runtime/rng.ts";
import { AddressBook, SocketTransport } from "../../offchain/runtime/socket-transport.ts";
import { Store } from "../../offchain/runtime/store.ts";
import { reservePorts } from "../helpers/hardhat-node.ts";

describe("Oksuz role services over sockets", function () {
  this.timeout(180_000);

  it("oksuzSetup is deterministic and its configs pass the roles' parseConfig", function () {
    const a = oksuzSetup("setup", 6, { fleets: 2 });
    const b = oksuzSetup("setup", 6, { fleets: 2 });
    expect(JSON.stringify(a.cc.config)).to.equal(JSON.stringify(b.cc.config));
    expect(a.fleets.map((f) => [f.config.first, f.config.count])).to.deep.equal([
      [0, 3],
      [3, 3],
    ]);
    expect(a.fleets[1].secrets["meter-4"]).to.deep.equal(b.fleets[1].secrets["meter-4"]);
    // JSON round trip: what the devnet writes is what the role reads.
    ccRole.parseConfig(JSON.parse(JSON.stringify(a.cc.config)));
    spRole.parseConfig(JSON.parse(JSON.stringify(a.sp.config)));
    metersRole.parseConfig(JSON.parse(JSON.stringify(a.fleets[0].config)));
    expect(() => ccRole.parseConfig({ ...a.cc.config, windowMs: 0 })).to.throw(
      ServiceConfigError,
      /windowMs/,
    );
    expect(() => metersRole.parseConfig({ ...a.fleets[0].config, first: 5 })).to.throw(
      ServiceConfigError,
      /first \+ count/,
    );
  });

  it("CC, SP and a 6-meter fleet run 2 intervals over 127.0.0.1; the chain reconciles", async function () {
    const connection = await network.create();
    const dirs: string[] = [];
    const transports: SocketTransport[] = [];
    const stores: Store[] = [];
    try {
      const [admin, controlCenter, serviceProvider] = await connection.ethers.getSigners();
      const setup = oksuzSetup("roles", 6, { intervals: 2, roundMs: 50, windowMs: 20_000 });
      const { address } = await deployBillingLedger(
        { admin, controlCenter, serviceProvider },
        setup.ledger,
      );
      const provider = admin.provider!;
      const chainId = (await provider.getNetwork()).chainId;
      const access = (signer?: typeof admin): OksuzChainAccess => ({
        provider,
        signer,
        ledger: address,
        chainId,
      });
      const book = new AddressBook();
      const addresses = [
        "cc",
        "sp",
        ...[0, 1, 2, 3, 4, 5].flatMap((i) => [`meter-${i}`, `user-${i}`]),
      ];
      // Ports below the ephemeral range (reservePorts): a service stopped and restarted on its
      // port must not find it taken by an outbound connection meanwhile (EADDRINUSE in CI).
      const ports = await reservePorts(addresses.length);
      addresses.forEach((a, k) => book.set(a, { host: "127.0.0.1", port: ports[k] }));
      const clock = new SystemClock();
      const envOf = <C>(p: OksuzProcessSetup<C>): ServiceEnv & { readonly config: C } => {
        const dataDir = mkdtempSync(join(tmpdir(), `gridledger-${p.name}-`));
        dirs.push(dataDir);
        const rng = createRng(`roles/${p.name}`);
        return {
          role: p.role,
          name: p.name,
          dataDir,
          config: p.config,
          logger: silentLogger,
          clock,
          rng,
          openStore(name) {
            const s = Store.open({ path: join(dataDir, `${name}.sqlite`) });
            stores.push(s);
            return s;
          },
          transport(a) {
            const t = new SocketTransport(
              { address: a, listen: book.get(a), addressBook: book },
              { clock, rng: rng.fork(`transport/${a}`) },
            );
            transports.push(t);
            return t;
          },
          secret(name) {
            const v = p.secrets[name];
            if (v === undefined) throw new Error(`no secret ${name}`);
            return v;
          },
          chain: { contracts: { BillingLedger: address } },
        };
      };
      const cc = await createCcService(envOf(setup.cc), access(controlCenter));
      const sp = await createSpService(envOf(setup.sp), access());
      const fleet = await createMetersService(envOf(setup.fleets[0]), access());
      for (const s of [cc, sp, fleet]) await s.start();
      await Promise.all([cc.done, sp.done, fleet.done]);
      expect(cc.status()).to.deep.include({ phase: "done", sealed: 2 });
      expect(sp.status()).to.deep.include({ phase: "done", billedThrough: 2 });
      expect(fleet.status()).to.deep.include({ billsVerified: 12, billsDisputed: 0 });
      for (const s of [fleet, sp, cc]) await s.stop();

      const ledger = connectBillingLedger(address, admin);
      for (const j of [1, 2]) {
        const onChain = await readInterval(ledger, j);
        expect(onChain.mismatches, `interval ${j}`).to.deep.equal([]);
        expect(onChain.state).to.equal(5);
        const reported = fleet.meters.reduce(
          (s, m) => s + m.interval(j)!.report.entries.reduce((t, e) => t + e.value, 0n),
          0n,
        );
        expect(onChain.sumWh).to.equal(reported);
        expect(onChain.price).to.equal(sp.sp.prices.get(j));
        expect(onChain.zeroSlots.size + onChain.ocd.length).to.equal(6 * 8);
        for (const u of fleet.users) {
          const check = u.checks.find((c) => c.interval === j)!;
          expect(check.verified, check.disputes.join("; ")).to.equal(true);
        }
      }
    } finally {
      await Promise.all(transports.map((t) => t.close()));
      for (const s of stores) s.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await connection.close();
    }
  });
});
