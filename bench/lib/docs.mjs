// Documents shared by the benchmarks, so Argon and its peers store the same data.

/** Deterministic document whose JSON text is ~1 KiB. */
export function makeDoc(i) {
  let seed = (i * 2654435761) >>> 0;
  const rnd = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed;
  };
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789 ';
  const text = (len) => {
    // Built as an array and joined: '+=' leaves V8 rope strings that make every consumer slow.
    const chars = new Array(len);
    for (let k = 0; k < len; k++) chars[k] = alphabet[rnd() % alphabet.length];
    return chars.join('');
  };
  const doc = {
    _id: i,
    name: `user-${i}`,
    email: `user${i}@example.com`,
    age: rnd() % 90,
    active: (rnd() & 1) === 1,
    tags: ['alpha', 'beta', 'gamma', 'delta'].filter(() => rnd() & 1),
    address: { city: text(10), zip: String(rnd() % 100000).padStart(5, '0') },
    payload: '',
  };
  const base = JSON.stringify(doc).length;
  doc.payload = text(Math.max(0, 1024 - base));
  return doc;
}

