// BLS12-381 (DESIGN §4.8) and the BBNP aggregation ledger: off-chain sign/verify time and on-chain gas.
//   gas.bls_verify: one BLS12381.tryVerify (hash-to-G2 + one 2-pair PAIRING_CHECK), measured with
//                   gasleft() inside BLSHarness.verifyGas: excludes the 21000 base, calldata and ABI
//                   decoding of the call.
//   gas.bls_hash_to_g2: one BLS12381.hashToG2 under the signature DST, measured the same way.
//   gas.bbnp_round: gasUsed of a whole recordRound transaction (receipt), including the 21000 base,
//                   calldata (256-byte signature) and the cold storage writes of a new round.
import { bytesToHex } from "@noble/hashes/utils.js";

import { blsPublicKey, blsSign, blsVerify, g1ToEip2537, g2ToEip2537 } from "../../crypto/bls.ts";
import { aggregationDomain, bbnpSignRound } from "../../protocol/aggregation.ts";
import { benchEthers } from "../chain.ts";
import { median, type BenchContext } from "../harness.ts";

const h = (x: Uint8Array): string => "0x" + bytesToHex(x);

export async function run(ctx: BenchContext): Promise<void> {
  const sk = 0x6a7e_3a7e_5eedn;
  const pk = blsPublicKey(sk);
  const msg = new Uint8Array(72).fill(7);
  const sig = blsSign(sk, msg);

  ctx.record(
    "bls.sign_us",
    ctx.measureUs((i) => blsSign(sk, new Uint8Array([i & 0xff, i >> 8])), {
      iterations: 20,
      samples: 5,
      warmup: 3,
    }),
    "us",
  );
  ctx.record(
    "bls.verify_us",
    ctx.measureUs(() => blsVerify(pk, msg, sig), { iterations: 10, samples: 5, warmup: 2 }),
    "us",
  );

  const ethers = await benchEthers();
  const [admin, gateway] = await ethers.getSigners();
  const harness = await ethers.deployContract("BLSHarness");

  const verifyGas: number[] = [];
  const hashGas: number[] = [];
  const samples = ctx.quick ? 3 : 9;
  for (let i = 0; i < samples; i++) {
    const m = new Uint8Array(72).fill(i);
    const s = blsSign(sk, m);
    const [valid, gasUsed] = await harness.verifyGas(h(g1ToEip2537(pk)), h(m), h(g2ToEip2537(s)));
    if (!valid) throw new Error("bls bench: a valid signature did not verify on-chain");
    verifyGas.push(Number(gasUsed));
    hashGas.push(Number(await harness.hashToG2Gas(h(m))));
  }
  ctx.record("gas.bls_verify", median(verifyGas), "gas");
  ctx.record("gas.bls_hash_to_g2", median(hashGas), "gas");

  const ledger = await ethers.deployContract("AggregationLedger", [
    admin.address,
    h(g1ToEip2537(pk)),
  ]);
  await (await ledger.grantRole(await ledger.GATEWAY_ROLE(), gateway.address)).wait();
  const { chainId } = await ethers.provider.getNetwork();
  const domain = aggregationDomain(chainId, await ledger.getAddress());
  const roundGas: number[] = [];
  for (let round = 1n; round <= BigInt(samples); round++) {
    const sum = 1_000_000n + round * 12_345n;
    const gwSig = h(g2ToEip2537(bbnpSignRound(sk, domain, round, sum, 10)));
    const receipt = await (await ledger.connect(gateway).recordRound(round, sum, 10, gwSig)).wait();
    if (receipt === null || receipt.status !== 1) throw new Error("bls bench: recordRound failed");
    roundGas.push(Number(receipt.gasUsed));
  }
  ctx.record("gas.bbnp_round", median(roundGas), "gas");
}
