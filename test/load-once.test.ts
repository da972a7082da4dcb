import { describe, expect, it } from '@jest/globals';
import { loadOnce } from '../src/wiring/load-once.ts';

describe('loadOnce', () => {
  it('shares one load between callers', async () => {
    let loads = 0;
    const get = loadOnce(async () => ++loads);
    expect(await Promise.all([get(), get(), get()])).toEqual([1, 1, 1]);
    expect(loads).toBe(1);
  });

  it('forgets a failed load, so the next message retries it', async () => {
    let loads = 0;
    const get = loadOnce(async () => {
      loads += 1;
      if (loads === 1) throw new Error('UNAVAILABLE');
      return 'client';
    });
    await expect(get()).rejects.toThrow('UNAVAILABLE');
    expect(await get()).toBe('client');
    expect(await get()).toBe('client');
    expect(loads).toBe(2);
  });
});
