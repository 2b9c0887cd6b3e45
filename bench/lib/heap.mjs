// What a V8 heap holds, by kind of object: the self size and count of each (type, constructor or
// name) in a heap snapshot, and the difference between two snapshots per unit (per connection, in
// the idle scenario), so a report can say which objects a connection costs.

/** Self size and count per (type, name) of a parsed `.heapsnapshot`: Map<key, {type, name, count, bytes}>. */
export function heapByKind(snapshot) {
  const { node_fields: fields, node_types: [types] } = snapshot.snapshot.meta;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const { nodes, strings } = snapshot;
  const kinds = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    // Strings, numbers and code are named by their content or are anonymous: one kind each.
    const named = type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' || type === 'array';
    const name = named ? strings[nodes[i + nameAt]] : '';
    const key = `${type}:${name}`;
    let k = kinds.get(key);
    if (!k) kinds.set(key, (k = { type, name, count: 0, bytes: 0 }));
    k.count++;
    k.bytes += nodes[i + sizeAt];
  }
  return kinds;
}

/**
 * What `after` holds more than `before`, per unit (e.g. per connection), largest first:
 * [{type, name, count, bytes}] with count and bytes divided by `units`; kinds that grew by less
 * than `minBytes` a unit are left out.
 */
export function heapGrowth(before, after, units, { minBytes = 8, top = 30 } = {}) {
  const rows = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    const bytes = (a.bytes - b.bytes) / units;
    if (bytes >= minBytes) rows.push({ type: a.type, name: a.name, count: (a.count - b.count) / units, bytes });
  }
  return rows.sort((x, y) => y.bytes - x.bytes).slice(0, top);
}
