/**
 * UidPool: identities from the base, reuse of the most recently released slot, and waiting
 * callers served first come first served.
 */
import { UidPool, type SandboxIdentity } from "../../function/sandbox/uid-pool.js";

const BASE = 2_002_800_000;
const GID = 2_002_800_500;

describe("UidPool", () => {
  it("hands out slots from the base upwards", async () => {
    const pool = new UidPool(BASE, 3, GID);
    const identities = [await pool.acquire(), await pool.acquire(), await pool.acquire()];

    expect(identities).toEqual([
      { uid: BASE, gid: GID, slot: 0 },
      { uid: BASE + 1, gid: GID, slot: 1 },
      { uid: BASE + 2, gid: GID, slot: 2 },
    ]);
    expect(pool.size).toBe(0);
  });

  it("returns frozen identities", async () => {
    const identity = await new UidPool(BASE, 1, GID).acquire();

    expect(Object.isFrozen(identity)).toBe(true);
  });

  it("reuses the most recently released slot", async () => {
    const pool = new UidPool(BASE, 3, GID);
    const first = await pool.acquire();
    const second = await pool.acquire();
    pool.release(first);
    pool.release(second);

    expect((await pool.acquire()).slot).toBe(1);
    expect((await pool.acquire()).slot).toBe(0);
    expect((await pool.acquire()).slot).toBe(2);
  });

  it("counts free uids", async () => {
    const pool = new UidPool(BASE, 2, GID);
    const identity = await pool.acquire();
    expect(pool.size).toBe(1);

    pool.release(identity);
    expect(pool.size).toBe(2);
  });

  it("serves waiting callers first come first served", async () => {
    const pool = new UidPool(BASE, 2, GID);
    const taken = [await pool.acquire(), await pool.acquire()];
    const order: string[] = [];
    const first = pool.acquire().then((identity) => {
      order.push("first");
      return identity;
    });
    const second = pool.acquire().then((identity) => {
      order.push("second");
      return identity;
    });

    pool.release(taken[1]!);
    const firstIdentity: SandboxIdentity = await first;
    expect(order).toEqual(["first"]);
    expect(firstIdentity.slot).toBe(1);

    pool.release(taken[0]!);
    expect((await second).slot).toBe(0);
    expect(order).toEqual(["first", "second"]);
    expect(pool.size).toBe(0);
  });

  it("hands a released slot to a waiter", async () => {
    const pool = new UidPool(BASE, 1, GID);
    const taken = await pool.acquire();
    const waiting = pool.acquire();
    pool.release(taken);

    expect(await waiting).toEqual({ uid: BASE, gid: GID, slot: 0 });
    expect(pool.size).toBe(0);
  });
});
