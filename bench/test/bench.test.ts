// The bench's own correctness: the framing helpers the load generator speaks to each target, the
// statistics behind every reported percentile, and a short end-to-end run against the real peers.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Histogram, bucketHigh, bucketIndex, bucketLow, percentile } from '../lib/stats.mjs';
import {
  benchText,
  chatterSend,
  chatterWsPath,
  classifyEio,
  decodeEioOpen,
  decodeSioEvent,
  eio,
  frameType,
  isMessageFrame,
  messageEventFrame,
  messageRoom,
  ackFrame,
  parseBenchText,
  readMarker,
  readSeq,
  scanMarkers,
  splitFrames,
} from '../load/protocols.mjs';
import { startTestServer } from '@chatter/server/testing';
import WebSocket from 'ws';
import { RAISED_LIMITS, startTarget } from '../lib/targets.mjs';
import fanout, { fsyncShare, generatorBound } from '../scenarios/fanout.mjs';
import { formatDuration, suiteTime } from '../report/time.mjs';
import capacity, { brokeBecause, worthRetrying } from '../scenarios/capacity.mjs';
import { verdict } from '../report/format.mjs';
import { callTree, flameGraphSvg } from '../report/flame.mjs';

const b = (s: string) => Buffer.from(s);

describe('flame graphs', () => {
  // root -> (idle) [4 samples]; root -> flush (hub.ts) [1] -> write [3], and a second flush node at
  // the same place [0] -> write [2]: the two flush nodes must merge, idle must be left out.
  const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '0' });
  const hub = 'file:///srv/chatter/packages/server/dist/realtime/hub.js';
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 5] },
      { id: 2, callFrame: frame('(idle)'), children: [] },
      { id: 3, callFrame: frame('flush', hub, 300), children: [4] },
      { id: 4, callFrame: frame('write', 'node:net', 10), children: [] },
      { id: 5, callFrame: frame('flush', hub, 300), children: [6] },
      { id: 6, callFrame: frame('write', 'node:net', 10), children: [] },
    ],
    startTime: 0,
    endTime: 10_000,
    samples: [2, 2, 2, 2, 3, 4, 4, 4, 6, 6],
    timeDeltas: [],
  };

  test('merges the same function at the same place and leaves idle out', () => {
    const tree = callTree(profile);
    assert.equal(tree.total, 6, 'busy samples only');
    assert.equal(tree.children.size, 1, 'the two flush nodes are one frame');
    const flush = [...tree.children.values()][0];
    assert.equal(flush.name, 'flush');
    assert.equal(flush.self, 1);
    assert.equal(flush.total, 6);
    assert.equal([...flush.children.values()][0].total, 5);
  });

  test('draws each frame as wide as its share of busy time, with a tooltip', () => {
    const svg = flameGraphSvg(profile, { title: 'test <profile>', width: 620 });
    assert.ok(svg.startsWith('<svg') && svg.endsWith('</svg>'));
    assert.match(svg, /test &lt;profile&gt;/, 'the title is escaped');
    assert.doesNotMatch(svg, /\(idle\)/);
    const widths = [...svg.matchAll(/<rect x="[\d.]+" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.equal(widths.length, 3, 'all, flush, write');
    // 600 px for 6 samples: all 600, flush 600, write 500 (minus the 0.5 px gap).
    assert.deepEqual(widths, [599.5, 599.5, 499.5]);
    assert.match(svg, /flush packages\/server\/dist\/realtime\/hub.js:301\n6\.0 ms, 100\.0% of busy time \(self 1\.0 ms\)/);
    assert.match(svg, /6 ms busy of 10 ms profiled/);
  });
});

describe('bench markers', () => {
  test('benchText pads to the length asked and parses back', () => {
    const text = benchText(42, 123456789, 64);
    assert.equal(text.length, 64);
    assert.deepEqual(parseBenchText(text), { msgNo: 42, sentMicros: 123456789 });
    assert.equal(benchText(1, 2, 3), 'bm:1:2:'); // never truncated below the marker itself
    assert.equal(parseBenchText('hello'), null);
  });

  test('scanMarkers finds every marker in coalesced frames and ignores broken ones', () => {
    const frames = [
      JSON.stringify({ type: 'message', message: { seq: 7, text: benchText(1, 1000) } }),
      JSON.stringify({ type: 'ack', clientId: 'c1' }),
      JSON.stringify({ type: 'message', message: { seq: 8, text: benchText(2, 2000) } }),
    ].join('\n');
    const seen: [number, number][] = [];
    assert.equal(scanMarkers(b(frames), (n: number, t: number) => seen.push([n, t])), 2);
    assert.deepEqual(seen, [[1, 1000], [2, 2000]]);
    assert.equal(scanMarkers(b('bm:12:x bm::3: bm:5:6'), () => assert.fail('no complete marker')), 0);
    const inRange: number[] = [];
    const buf = b(`${benchText(3, 30)}|${benchText(4, 40)}`);
    scanMarkers(buf, (n: number) => inRange.push(n), 65);
    assert.deepEqual(inRange, [4]);
  });

  test('readMarker reads the first complete marker in range, and only that one', () => {
    const seen: [number, number][] = [];
    const buf = b(`bm:12:x ${benchText(5, 50)}\n${benchText(6, 60)}`);
    assert.equal(readMarker(buf, (n: number, t: number) => seen.push([n, t])), 1);
    assert.deepEqual(seen, [[5, 50]], 'skips the broken one, stops after the first');
    // A marker past `end` is not this frame's, however close.
    assert.equal(readMarker(buf, () => assert.fail('out of range'), 0, 7), 0);
    assert.equal(readMarker(b('bm:1:2'), () => assert.fail('incomplete')), 0);
  });
});

describe('Engine.IO v4 / Socket.IO framing', () => {
  test('classifies the packets a websocket-only client meets', () => {
    assert.equal(classifyEio(b('0{"sid":"abc","pingInterval":25000}')), 'open');
    assert.equal(classifyEio(b('2')), 'ping');
    assert.equal(classifyEio(b('3')), 'pong');
    assert.equal(classifyEio(b('1')), 'close');
    assert.equal(classifyEio(b('40{"sid":"xyz"}')), 'connect');
    assert.equal(classifyEio(b('42["chat",{"text":"hi"}]')), 'event');
    assert.equal(classifyEio(b('44{"message":"nope"}')), 'connect_error');
    assert.equal(classifyEio(b('41')), 'disconnect');
    assert.equal(classifyEio(b('9')), 'unknown');
  });

  test('encodes and decodes events and the handshake', () => {
    assert.equal(eio.connect, '40');
    assert.equal(eio.pong, '3');
    const packet = eio.event('chat', { clientId: 'c1', text: 'hi "there"\n' });
    assert.equal(packet, '42["chat",{"clientId":"c1","text":"hi \\"there\\"\\n"}]');
    assert.deepEqual(decodeSioEvent(b(packet)), { name: 'chat', data: { clientId: 'c1', text: 'hi "there"\n' } });
    assert.equal(decodeSioEvent(b('2')), null);
    assert.deepEqual(decodeEioOpen(b('0{"sid":"a","pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}')).pingInterval, 25000);
  });
});

describe('Chatter framing', () => {
  test('splits coalesced messages on newlines, skipping empty lines', () => {
    const buf = b('{"type":"a"}\n{"type":"b"}\n\n{"type":"c"}');
    assert.deepEqual(splitFrames(buf).map(([s, e]) => buf.toString('utf8', s, e)), ['{"type":"a"}', '{"type":"b"}', '{"type":"c"}']);
    assert.deepEqual(splitFrames(b('{"type":"x"}')), [[0, 12]]);
  });

  test('reads the frame type fast when it comes first, and by parsing otherwise', () => {
    const created = messageEventFrame({ room: 'r1x', seq: 41, at: 'now', author: { id: 3, username: 'a', avatarUrl: null }, text: 'hi', clientId: 'c' });
    const edited = JSON.stringify({ type: 'event', event: { kind: 'message_edited', room: 'r1x', seq: 42, message: { id: 1, seq: 41 } } });
    const buf = b(`${created}\n{"seq":3,"type":"ack"}\nnot json\n${edited}`);
    const [m, a, bad, e] = splitFrames(buf);
    assert.ok(m && a && bad && e);
    assert.equal(frameType(buf, ...m), 'event');
    assert.equal(frameType(buf, ...a), 'ack');
    assert.equal(frameType(buf, ...bad), 'invalid');
    assert.equal(readSeq(buf, ...m), 41);
    assert.ok(isMessageFrame(buf, ...m), 'a new message is recognised by its first bytes');
    assert.equal(messageRoom(buf, ...m), 'r1x');
    assert.ok(!isMessageFrame(buf, ...a) && !isMessageFrame(buf, ...e), 'an ack or an edit is no new message');
    assert.ok(!isMessageFrame(b('{"type":"events","room":"general","events":[{"kind":"message_created"}]}')));
    assert.equal(readSeq(b('{"type":"hello","rooms":[{"lastSeq":9}]}')), -1); // lastSeq is not seq
  });

  test("the coalescing floor's frames have the server's shape and key order", async () => {
    // The server's own presenter and serialization for a message_created event, and the ack.
    const { presentEvent } = await import('../../packages/server/src/conversations/present.js');
    const { ackFrame: serverAck } = await import('../../packages/server/src/realtime/gateway.js');
    const author = { id: 7, username: 'u7', avatarUrl: null };
    const at = Date.UTC(2026, 0, 1);
    const record = { id: 41, roomId: 'general', seq: 41, authorId: 7, clientId: 'c_1', text: 'hi', createdAt: at, version: 41, editedAt: null, deletedAt: null, mentions: [] };
    const event = { roomId: 'general', seq: 41, kind: 'message_created', actorId: 7, clientId: 'c_1', createdAt: at, messageId: 41, userId: null, data: {} };
    const server = JSON.stringify({ type: 'event', event: presentEvent(event as never, { message: record as never, author, user: null }) });
    const iso = new Date(at).toISOString();
    assert.equal(messageEventFrame({ room: 'general', seq: 41, at: iso, author, text: 'hi', clientId: 'c_1' }), server);
    const outcome = { room: 'general', seq: 41, duplicate: false, event, message: record };
    assert.equal(ackFrame({ clientId: 'c_1', room: 'general', seq: 41, messageId: 41, createdAt: iso }), JSON.stringify(serverAck('c_1', outcome as never)));
  });

  test('builds send frames and connect URLs', () => {
    assert.deepEqual(JSON.parse(chatterSend('general', 'c7', 'hi')), { type: 'send', room: 'general', clientId: 'c7', text: 'hi' });
    assert.equal(chatterWsPath(), '/ws?history=0');
    assert.equal(chatterWsPath({ resume: { general: 120, other: 5 } }), '/ws?history=0&resume=general%3A120%2Cother%3A5');
  });
});

describe('statistics', () => {
  test('every value falls inside its bucket and buckets are ordered', () => {
    let previous = -1;
    for (let v = 0; v < 300_000; v += 13) {
      const i = bucketIndex(v);
      assert.ok(bucketLow(i) <= v && v < bucketHigh(i), `value ${v} outside bucket ${i}`);
      assert.ok(i >= previous);
      previous = i;
    }
    for (const v of [2 ** 32, 2 ** 40 + 7]) assert.ok(bucketLow(bucketIndex(v)) <= v && v < bucketHigh(bucketIndex(v)));
  });

  test('histogram percentiles stay within 1% of the exact ones', () => {
    const h = new Histogram();
    const values: number[] = [];
    for (let i = 1; i <= 10_000; i++) {
      const v = (i * 7919) % 100_003; // a spread of values, unsorted
      values.push(v);
      h.record(v);
    }
    for (const p of [50, 90, 95, 99, 99.9]) {
      const exact = percentile(values, p);
      assert.ok(Math.abs(h.percentile(p) - exact) <= exact * 0.01 + 1, `p${p}: ${h.percentile(p)} vs ${exact}`);
    }
    assert.equal(h.percentile(100), Math.max(...values));
    assert.equal(h.percentile(0), Math.min(...values));
    assert.equal(h.count, 10_000);
  });

  test('small values are exact; empty histograms say NaN', () => {
    const h = new Histogram();
    for (const v of [5, 1, 3, 2, 4]) h.record(v);
    assert.deepEqual(h.summary(), { count: 5, p50: 3, p95: 5, p99: 5, max: 5, mean: 3 });
    assert.ok(Number.isNaN(new Histogram().percentile(50)));
  });

  test('histograms merge and survive JSON', () => {
    const a = new Histogram();
    const c = new Histogram();
    for (let i = 0; i < 1000; i++) a.record(i);
    for (let i = 1000; i < 2000; i++) c.record(i * 10);
    const merged = Histogram.fromJSON(JSON.parse(JSON.stringify(a.toJSON()))).merge(JSON.parse(JSON.stringify(c.toJSON())));
    assert.equal(merged.count, 2000);
    assert.equal(merged.min, 0);
    assert.equal(merged.max, 19_990);
    assert.ok(Math.abs(merged.percentile(75) - 15_000) < 150);
  });

  test('exact nearest-rank percentile', () => {
    assert.equal(percentile([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 90), 9);
    assert.equal(percentile([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 50), 5);
    assert.equal(percentile([3], 99), 3);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});

describe('end to end against real servers', () => {
  const servers: { stop: () => Promise<void> }[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  for (const kind of ['ws-floor', 'socketio', 'ws-coalesce'] as const) {
    test(`${kind}: 20 clients, 5 senders, 50 msg/s for a second, nothing lost`, async () => {
      const server = await startTarget(kind);
      servers.push(server);
      const result = await fanout.load(
        { clients: 20, senders: 5, rate: 50, warmupMs: 300, windowMs: 1000, drainMs: 2000, textLength: 64 },
        { target: { kind, host: server.host, port: server.port, pid: server.pid }, tokens: [], log: () => {} },
      );
      assert.equal(result.ready, 20);
      // Open loop: what was sent follows the window's wall time, however late a loaded machine's timers fire.
      const due = (50 * result.windowMs) / 1000;
      assert.ok(result.sentInWindow >= 40 && Math.abs(result.sentInWindow - due) <= 5, `sent ${result.sentInWindow} in ${result.windowMs} ms`);
      assert.equal(result.undelivered, 0);
      assert.equal(result.duplicates, 0);
      assert.equal(result.receivedDeliveries, result.sentInWindow * 20);
      const latency = Histogram.fromJSON(result.latency);
      assert.equal(latency.count, result.receivedDeliveries);
      assert.ok(latency.percentile(50) > 0 && latency.percentile(50) < 1_000_000, `p50 ${latency.percentile(50)} µs`);
      assert.ok(result.serverCpuMicros !== null && (result.rssKiB ?? 0) > 0);
      // The coalescing floor answers as Chatter does: a hello to get in, an ack for every send.
      if (kind === 'ws-coalesce') assert.ok(result.acks >= result.sentInWindow, `acks ${result.acks} for ${result.sentInWindow} sent in the window`);
    });
  }

  test("ws-coalesce: one turn's frames go out as one WebSocket message per socket", async () => {
    const server = await startTarget('ws-coalesce');
    servers.push(server);
    /** A raw client that counts WebSocket messages and the newline-separated frames inside them. */
    const open = async (user: string) => {
      const ws = new WebSocket(`ws://${server.host}:${server.port}/ws?history=0&user=${user}`, { perMessageDeflate: false });
      const seen = { messages: 0, frames: [] as { type: string; event?: { kind: string; message: { text: string; seq: number } } }[] };
      ws.on('message', (data: Buffer) => {
        seen.messages++;
        for (const line of data.toString().split('\n')) seen.frames.push(JSON.parse(line));
      });
      await new Promise((resolve) => ws.once('message', resolve)); // the hello
      assert.equal(seen.frames[0]?.type, 'hello');
      return { ws, seen };
    };
    const sender = await open('s');
    const receivers = [await open('r1'), await open('r2')];
    /** Resolves at the WebSocket message after which `done` holds (counted, not timed: a loaded machine is slow). */
    const until = (ws: WebSocket, done: () => boolean) =>
      new Promise<void>((resolve) => {
        if (done()) return resolve();
        const check = () => {
          if (!done()) return;
          ws.off('message', check);
          resolve();
        };
        ws.on('message', check);
      });
    // Ten sends in one TCP write, so the peer reads them in one event-loop turn.
    const socket = (sender.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    for (let i = 0; i < 10; i++) sender.ws.send(JSON.stringify({ type: 'send', room: 'general', clientId: `c_${i}`, text: benchText(i, 1000 + i) }));
    socket.uncork();
    const messageFrames = (seen: typeof sender.seen) => seen.frames.filter((f) => f.type === 'event' && f.event?.kind === 'message_created');
    for (const { ws, seen } of [...receivers, sender]) {
      await until(ws, () => messageFrames(seen).length === 10);
      assert.deepEqual(messageFrames(seen).map((f) => parseBenchText(f.event!.message.text)?.msgNo), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.deepEqual(messageFrames(seen).map((f) => f.event!.message.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
    for (const { seen } of receivers) assert.equal(seen.messages, 2, 'the hello, then all ten messages in one WebSocket message');
    // The sender: hello, its ten acks joined, then the ten messages joined (acks first, as Chatter does).
    assert.deepEqual(sender.seen.frames.map((f) => f.type), ['hello', ...Array(10).fill('ack'), ...Array(10).fill('event')]);
    assert.equal(sender.seen.messages, 3);
    for (const { ws } of [sender, ...receivers]) ws.terminate();
  });

  test('chatter: 20 authenticated clients, every message acked and delivered once', async () => {
    const server = await startTestServer({ messagesPerSecond: 1_000_000, messageBurst: 1_000_000 });
    servers.push({ stop: () => server.close() });
    const tokens = [];
    for (let i = 0; i < 20; i++) tokens.push(await server.register(`bench_smoke_${i}`));
    const port = Number(new URL(server.url).port);
    const result = await fanout.load(
      { clients: 20, senders: 5, rate: 50, warmupMs: 300, windowMs: 1000, drainMs: 2000, textLength: 64 },
      { target: { kind: 'chatter', host: '127.0.0.1', port, pid: process.pid }, tokens, log: () => {} },
    );
    assert.equal(result.ready, 20);
    assert.equal(result.undelivered, 0);
    assert.equal(result.duplicates, 0);
    assert.equal(result.receivedDeliveries, result.sentInWindow * 20);
    assert.deepEqual(result.errors, {});
    assert.ok(result.acks >= result.sentInWindow, `acks ${result.acks} for ${result.sentInWindow} sent in the window`);
  });

  test("chatter with the bench's raised message limit carries the 16 KB size step", async () => {
    const server = await startTestServer({ messagesPerSecond: 1_000_000, messageBurst: 1_000_000, messageMaxChars: Number(RAISED_LIMITS.CHATTER_MESSAGE_MAX_CHARS) });
    servers.push({ stop: () => server.close() });
    const tokens = [];
    for (let i = 0; i < 10; i++) tokens.push(await server.register(`bench_large_${i}`));
    const port = Number(new URL(server.url).port);
    const textLength = fanout.plan({ quick: false }).steps.at(-1).params.textLength;
    assert.equal(textLength, 16_384);
    const result = await fanout.load(
      { clients: 10, senders: 2, rate: 20, warmupMs: 300, windowMs: 1000, drainMs: 2000, textLength },
      { target: { kind: 'chatter', host: '127.0.0.1', port, pid: process.pid }, tokens, log: () => {} },
    );
    assert.deepEqual(result.errors, {}, 'no validation_failed: 16 KB is within the raised limit');
    assert.ok(result.sentInWindow > 0);
    assert.equal(result.undelivered, 0);
    assert.equal(result.receivedDeliveries, result.sentInWindow * 10);
  });
});

describe('the fan-out plan', () => {
  test('judges at 50 msg/s, keeps 100, and measures 64 B and 1 KB at the judged rate, 16 KB slower', () => {
    const { steps } = fanout.plan({ quick: false });
    assert.deepEqual(steps.map((s: { key: string }) => s.key), ['50', '100', '50@1024B', '10@16384B']);
    assert.ok(steps.every((s: { params: { clients: number } }) => s.params.clients === 1000));
    assert.deepEqual(fanout.targets.filter((t: string) => t.startsWith('chatter')), ['chatter', 'chatter-nopace', 'chatter-syncnormal']);
    // The variants explain the judged rate's verdicts; at 100 msg/s only Chatter, the floor and the context peers run.
    assert.equal(steps[0].targets, undefined);
    assert.deepEqual(steps[1].targets, ['chatter', 'ws-coalesce', 'ws-floor', 'socketio']);
    // --rates (finding the rates) runs every target at every rate, and moves the size steps to the lowest rate asked.
    const asked = fanout.plan({ quick: false, rates: [25, 200], sizes: [1024] }).steps;
    assert.deepEqual(asked.map((s: { key: string }) => s.key), ['25', '200', '25@1024B']);
    assert.equal(asked[1].targets, undefined);
  });
});

describe('the fan-out report', () => {
  /** One synthetic run: 1,000 clients, 1 s window, the given CPU per delivery, p50/p99 and generator share. */
  const run = (target: string, rate: number, { cpu, p50, p99, generator }: { cpu: number; p50: number; p99: number; generator: number }) => {
    const latency = new Histogram();
    for (let i = 0; i < 98; i++) latency.record(p50);
    latency.record(p99);
    latency.record(p99);
    const delivered = rate * 1000;
    return {
      target,
      params: { rate, clients: 1000 },
      result: {
        latency: latency.toJSON(), windowMs: 1000, deliveredInWindow: delivered, serverCpuMicros: cpu * delivered, serverSysMicros: 0,
        undelivered: 0, duplicates: 0, rssKiB: 100_000, generatorCpuShare: generator, closesDuring: 0, closeCodes: {}, errors: {},
      },
    };
  };
  const targets = ['chatter', 'ws-coalesce', 'ws-floor', 'socketio'];
  const runs = [100, 1000].flatMap((rate) => [
    // At 1,000 msg/s the generator ran at 95% of its core while Chatter was measured.
    run('chatter', rate, { cpu: 1, p50: 5000, p99: 10_000, generator: rate === 1000 ? 0.95 : 0.4 }),
    run('ws-coalesce', rate, { cpu: 2, p50: 4000, p99: 9000, generator: 0.4 }),
    run('ws-floor', rate, { cpu: 4, p50: 4000, p99: 9000, generator: 0.5 }),
    run('socketio', rate, { cpu: 8, p50: 4000, p99: 9000, generator: 0.6 }),
  ]);
  const report = fanout.report(runs, { targets });
  const at = (prefix: string) => report.verdicts.find((v: { target: string }) => v.target.startsWith(prefix));

  test('judges CPU, p50 and p99 against the coalescing floor where the generator kept up', () => {
    assert.equal(at('Server CPU per delivery at 100 msg/s ≤ 1.0× the coalescing floor').met, true);
    assert.equal(at('p50 latency at 100 msg/s ≤ 1.5× the coalescing floor').met, true);
    assert.equal(at('p99 latency at 100 msg/s ≤ 1.2× the coalescing floor').met, true);
    assert.match(report.markdown, /\| 100 \| delivered\/s \| 100,000 \| 100,000 \| 100,000 \| 100,000 \|/, 'no mark where nobody was generator-bound');
  });

  test('marks a generator-bound row and does not judge a verdict on it', () => {
    assert.ok(generatorBound({ generatorCpuShare: 0.95 }) && !generatorBound({ generatorCpuShare: 0.9 }) && !generatorBound(null));
    for (const prefix of ['Server CPU per delivery at 1000 msg/s', 'p50 latency at 1000 msg/s', 'p99 latency at 1000 msg/s']) {
      const v = at(prefix);
      assert.equal(v.met, null, prefix);
      assert.equal(v.reason, 'generator-bound');
      assert.equal(verdict(v.met, v.reason), 'not judged: generator-bound');
      assert.match(v.measured, /generator-bound: median generator share 95%/);
    }
    // The figure is marked next to it, for Chatter (the bound side) and for ratios that involve it.
    assert.match(report.markdown, /\| 1,000 \| delivered\/s \| 1,000,000 \(generator-bound\) \| 1,000,000 \| 1,000,000 \| 1,000,000 \| 1\.00× \(generator-bound\) \|/);
    assert.match(report.markdown, /\| 1,000 \| generator CPU \| 95% \(generator-bound\) \| 40% \|/);
    assert.match(report.markdown, /Chatter at 1000 msg\/s: generator-bound/);
  });

  test('keeps the plain floor and Socket.IO as context, without verdicts', () => {
    const context = report.verdicts.filter((v: { reason?: string }) => v.reason === 'context');
    assert.equal(context.length, 5);
    for (const v of context) assert.equal(verdict(v.met, v.reason), 'context');
    assert.match(at('Server CPU per delivery against Socket.IO').measured, /100\/s: 0\.13×, 1000\/s: 0\.13× generator-bound/);
    assert.match(report.markdown, /\| Offered msg\/s \| Metric \| Chatter \| coalescing floor \| ws floor \| Socket.IO 4 \|/);
  });
});

describe('pacing, sizes and the profiled step in the fan-out report', () => {
  const run = (target: string, rate: number, { cpu, p50, p99, generator = 0.4, text = 64, late = 0 }: { cpu: number; p50: number; p99: number; generator?: number; text?: number; late?: number }) => {
    const latency = new Histogram();
    for (let i = 0; i < 98; i++) latency.record(p50);
    latency.record(p99);
    latency.record(p99);
    const delivered = rate * 1000;
    return {
      target,
      step: text === 64 ? String(rate) : `${rate}@${text}B`,
      params: { rate, clients: 1000, textLength: text, ...(text !== 64 && { sizeStep: true }) },
      result: {
        latency: latency.toJSON(), windowMs: 1000, deliveredInWindow: delivered, serverCpuMicros: cpu * delivered, serverSysMicros: 0,
        undelivered: late, duplicates: 0, rssKiB: 100_000, generatorCpuShare: generator, closesDuring: 0, closeCodes: {}, errors: {},
      },
    };
  };
  const targets = ['chatter', 'chatter-nopace', 'chatter-syncnormal', 'ws-coalesce'];
  // At 100 msg/s Chatter meets everything; at 200 it misses p50 (pacing: unpaced meets it) and CPU
  // (unpaced misses it too); at 1 KB it misses p99 and loses nothing; at 16 KB (20 msg/s) a delivery is late.
  const runs = [
    run('chatter', 100, { cpu: 1, p50: 5000, p99: 10_000 }),
    run('chatter-nopace', 100, { cpu: 1.2, p50: 4000, p99: 9000 }),
    run('chatter-syncnormal', 100, { cpu: 0.9, p50: 4500, p99: 9500 }),
    run('ws-coalesce', 100, { cpu: 1, p50: 4000, p99: 9000 }),
    run('chatter', 200, { cpu: 2, p50: 9000, p99: 10_000 }),
    run('chatter-nopace', 200, { cpu: 3, p50: 5000, p99: 9000 }),
    run('ws-coalesce', 200, { cpu: 1, p50: 4000, p99: 9000 }),
    run('chatter', 100, { cpu: 1, p50: 5000, p99: 20_000, text: 1024 }),
    run('ws-coalesce', 100, { cpu: 1, p50: 5000, p99: 10_000, text: 1024 }),
    run('chatter', 20, { cpu: 1, p50: 5000, p99: 10_000, text: 16_384, late: 3 }),
    run('ws-coalesce', 20, { cpu: 1, p50: 5000, p99: 10_000, text: 16_384 }),
  ];
  const profiles = [{ scenario: 'fanout', step: '200', name: 'fanout-200', flameLink: 'bench/flame-fanout-200.svg' }];
  const report = fanout.report(runs, { targets, profiles });
  const at = (prefix: string) => report.verdicts.find((v: { target: string }) => v.target.startsWith(prefix));

  test('profiles the highest rate where a target is missed', () => {
    assert.deepEqual(fanout.profileSteps(runs), ['200']);
    assert.deepEqual(fanout.profileSteps(runs.filter((r) => r.params.rate === 100)), ['100'], 'nothing missed: the highest judged rate');
  });

  test('says which target is missed and why, and links the flame graph', () => {
    assert.equal(at('p50 latency at 200 msg/s').met, false);
    assert.match(report.markdown, /\*\*Not met at 200 msg\/s: CPU per delivery and p50\.\*\* with pacing off, Chatter meets p50 \(5\.0 ms\), so that miss is the price of pacing/);
    assert.match(report.markdown, /CPU per delivery is missed with pacing off too, so pacing is not the cause/);
    assert.match(report.markdown, /\[flame graph\]\(bench\/flame-fanout-200\.svg\)/);
    assert.doesNotMatch(report.markdown, /Not met at 100 msg\/s/);
  });

  test('states the fsync\'s share of the gap to the floor in the summary and its own section', () => {
    assert.match(at("Share of Chatter's latency gap to the coalescing floor that is the fsync before the fan-out, at 100 msg/s").measured, /^p50 0\.5 of a 1\.0 ms gap \(5\d%\); p99 0\.5 of a 1\.0 ms gap \(5\d%\)$/, 'histogram buckets: within 1%');
    assert.match(report.markdown, /### The fsync before the fan-out[^]*At 100 msg\/s: p50 5\.0 ms with the fsync, 4\.5 ms without, 4\.0 ms for the floor: of the 1\.0 ms gap, the fsync accounts for 0\.5 ms, 5\d% of it/);
    assert.match(report.markdown, /\| Chatter, synchronous=NORMAL \|/);
  });

  test('states the cost of pacing in numbers', () => {
    assert.match(report.markdown, /At 200 msg\/s: p50 9\.0 ms paced vs 5\.0 ms unpaced \(\+4\.0 ms, 1\.80×\); p99 10\.0 vs 9\.0 ms \(1\.11×\); server CPU per delivery 2\.00 vs 3\.00 µs \(0\.67×, pacing saves 33%\)/);
    assert.doesNotMatch(report.markdown, /ranges of p50 and p99 overlap/, 'one round each: no range to compare');
  });

  test('says when paced and unpaced differ by no more than their rounds do', () => {
    // A rate where the room is not held: the two rows are the same server, up to the noise.
    const quiet = [
      run('chatter', 50, { cpu: 1, p50: 8000, p99: 20_000 }),
      run('chatter-nopace', 50, { cpu: 1, p50: 8500, p99: 21_000 }),
      run('ws-coalesce', 50, { cpu: 1, p50: 6000, p99: 18_000 }),
      run('chatter', 50, { cpu: 1, p50: 9000, p99: 22_000 }),
      run('chatter-nopace', 50, { cpu: 1, p50: 9500, p99: 23_000 }),
      run('ws-coalesce', 50, { cpu: 1, p50: 6000, p99: 18_000 }),
    ];
    assert.match(fanout.report(quiet, { targets, profiles: [] }).markdown, /At 50 msg\/s: p50 [^\n]*\. The paced and unpaced ranges of p50 and p99 overlap: at this rate the two differ by no more than rounds do\./);
    // Held: paced p50 well above every unpaced round.
    const held = quiet.map((r, i) => (r.target === 'chatter' ? run('chatter', 50, { cpu: 1, p50: 14_000 + i, p99: 22_000 }) : r));
    assert.doesNotMatch(fanout.report(held, { targets, profiles: [] }).markdown, /ranges of p50 and p99 overlap/);
  });

  test('judges every size against the coalescing floor, and counts its late deliveries against the guarantee', () => {
    assert.equal(at('p99 latency at 100 msg/s, 1 KB text').met, false);
    assert.equal(at('p50 latency at 100 msg/s, 1 KB text').met, true);
    assert.match(report.markdown, /\*\*Not met with 1 KB text at 100 msg\/s: p99\.\*\* Besides what it does at any size/);
    assert.doesNotMatch(report.markdown, /Not met with 16 KB text/);
    assert.equal(at('p99 latency at 20 msg/s, 16 KB text').met, true);
    assert.match(report.markdown, /\| 64 B at 100\/s \| latency p50 \(ms\) \| 5\.0 \| 4\.0 \| 1\.25× \|/, 'the 64-byte row is the main step at that rate');
    assert.match(report.markdown, /\| 16 KB at 20\/s \| latency p99 \(ms\) \| 10\.0 \| 10\.0 \| 1\.00× \|/);
    assert.match(report.markdown, /64 B, 1 KB of message text at 100 msg\/s, and 16 KB at 20 msg\/s \(328 MB\/s of text delivered; at 100 msg\/s it would be 1,638 MB\/s/);
    assert.match(report.markdown, /`CHATTER_MESSAGE_MAX_CHARS=16384`/);
    const guarantee = at('Chatter loses no deliveries');
    assert.equal(guarantee.met, false);
    assert.match(guarantee.measured, /^3 not received/);
    assert.equal(report.verdicts.at(-1), guarantee, 'the guarantee comes last');
  });
});

describe('the fsync share', () => {
  const agg = (p50: number, p99: number, cpu: number, generator = 0.5) => {
    const s = (median: number) => ({ median, min: median, max: median, n: 3 });
    return { spread: { p50: s(p50), p99: s(p99), cpuPerDelivery: s(cpu), generatorCpuShare: s(generator) }, cpuPerDelivery: cpu, generatorCpuShare: generator };
  };

  test('states how much of the gap to the floor the fsync is, in words and numbers', () => {
    const { section, summaries } = fsyncShare([50, 100], { 50: agg(17_000, 35_000, 6), 100: agg(17_000, 35_000, 6) }, { 50: agg(12_000, 30_000, 5.5), 100: agg(9000, 20_000, 5, 0.95) }, { 50: agg(7000, 25_000, 8), 100: agg(7000, 25_000, 8) });
    const text = section.join('\n');
    assert.deepEqual(summaries[0], { rate: 50, text: 'p50 5.0 of a 10.0 ms gap (50%); p99 5.0 of a 10.0 ms gap (50%)' });
    assert.match(summaries[1].text, /p99 15\.0 of a 10\.0 ms gap \(100%\).*indicative/);
    assert.match(text, /### The fsync before the fan-out/);
    assert.match(text, /At 50 msg\/s: p50 17\.0 ms with the fsync, 12\.0 ms without, 7\.0 ms for the floor: of the 10\.0 ms gap, the fsync accounts for 5\.0 ms, 50% of it; p99 35\.0 ms with the fsync, 30\.0 ms without, 25\.0 ms for the floor: of the 10\.0 ms gap, the fsync accounts for 5\.0 ms, 50% of it\. Server CPU per delivery 6\.00 vs 5\.50 µs without the fsync \(1\.09×\)\.$/m);
    // p99 without the fsync under the floor's: all of the gap; a generator-bound side is indicative only.
    assert.match(text, /At 100 msg\/s: .*p99 35\.0 ms with the fsync, 20\.0 ms without, 25\.0 ms for the floor: of the 10\.0 ms gap, the fsync accounts for 15\.0 ms, all of it .*indicative only/);
  });

  test('says so when there is no gap, and stays silent without the variant', () => {
    assert.match(fsyncShare([50], { 50: agg(7000, 20_000, 6) }, { 50: agg(6000, 19_000, 5) }, { 50: agg(8000, 25_000, 8) }).section.join('\n'), /not slower than the floor here/);
    assert.deepEqual(fsyncShare([50], { 50: agg(7000, 20_000, 6) }, {}, { 50: agg(8000, 25_000, 8) }), { section: [], summaries: [] });
  });
});

describe('the suite time', () => {
  const summary = (totalSeconds: number, opts: object = {}) => ({ totalSeconds, opts: { quick: false, only: null, ...opts }, setup: { users: 10_000, ms: 20_000 }, scenarios: ['fanout', 'history'] });
  const timing = (startMs: number, stopMs: number) => ({ timing: { startMs, loadMs: 5000, stopMs } });
  const runs = {
    fanout: { seconds: 300, prepareSeconds: 0, runs: [timing(1200, 300), timing(800, 200)], profileRuns: [timing(1500, 500)] },
    history: { seconds: 11, prepareSeconds: 25, runs: [timing(100, 100)] },
  };

  test('lists every part with its time, and the rest', () => {
    const { rows, overBudget } = suiteTime(summary(400), runs);
    assert.deepEqual(rows.map(([what, s]: [string, number]) => [what, formatDuration(s)]), [
      ['registering 10,000 Chatter users', '20 s'],
      ['fanout (3 server starts and stops 5 s)', '5 min 00 s'],
      ['history (set-up 25 s)', '36 s'],
      ['the rest (start, building, the report)', '44 s'],
    ]);
    assert.equal(overBudget, null);
  });

  test('says loudly when the default suite passes 15 minutes, and only then', () => {
    assert.match(suiteTime(summary(15 * 60 + 30), runs).overBudget ?? '', /^Over budget: this run of the default suite took 15\.5 minutes, more than the 15 minutes/);
    assert.equal(suiteTime(summary(15 * 60), runs).overBudget, null);
    assert.equal(suiteTime(summary(20 * 60, { quick: true }), runs).overBudget, null, 'quick runs are not the default suite');
    assert.equal(suiteTime(summary(20 * 60, { only: ['rooms'] }), runs).overBudget, null, 'nor are runs of some scenarios');
  });
});

describe('the capacity step-up', () => {
  const step = (offered: number, { delivered, p99, late = 0 }: { delivered: number; p99: number; late?: number }) => {
    const latency = new Histogram();
    for (let i = 0; i < 99; i++) latency.record(1000);
    latency.record(p99);
    latency.record(p99);
    return { offered, ready: 1000, deliveredPerSec: delivered, undelivered: late, latency: latency.toJSON() };
  };

  test('a step breaks on p99 over 250 ms, on falling behind, or on late deliveries, and says which', () => {
    assert.equal(brokeBecause(step(100, { delivered: 100_000, p99: 240_000 })), null);
    assert.match(brokeBecause(step(100, { delivered: 100_000, p99: 260_000 })) ?? '', /^p99 2(59|60)\.\d ms > 250 ms$/);
    assert.match(brokeBecause(step(100, { delivered: 89_000, p99: 1000 })) ?? '', /delivered 89,000\/s < 90% of 100,000\/s offered/);
    assert.match(brokeBecause(step(100, { delivered: 100_000, p99: 1000, late: 5 })) ?? '', /5 late at the end of the drain/);
  });

  test('retries a break a stall could explain, not a target past its knee', () => {
    const at = (share: number, over: Parameters<typeof step>[1]) => ({ ...step(100, over), serverCpuShare: share });
    assert.equal(worthRetrying(at(0.6, { delivered: 100_000, p99: 400_000 })), true, 'p99 alone, with room on the core: maybe a stall');
    assert.equal(worthRetrying(at(0.99, { delivered: 100_000, p99: 400_000 })), true, 'p99 alone at a full core: still kept up');
    assert.equal(worthRetrying(at(0.6, { delivered: 80_000, p99: 400_000 })), true, 'behind but idle part of the time, and caught up in the drain');
    assert.equal(worthRetrying(at(0.99, { delivered: 80_000, p99: 400_000 })), false, 'behind with the whole core busy: saturated');
    assert.equal(worthRetrying(at(0.6, { delivered: 50_000, p99: 400_000, late: 10 })), false, 'still behind after the drain');
    assert.equal(worthRetrying({ ...step(100, { delivered: 80_000, p99: 400_000 }), serverCpuShare: null }), true, 'no CPU reading: give it the benefit of the doubt');
  });

  test('reports the highest step sustained as capacity, the retried step and where each target broke', () => {
    const ladder = (steps: object[]) => ({ clients: 1000, steps });
    const mk = (offered: number, delivered: number, broke: string | null, extra = {}) => ({ ...step(offered, { delivered, p99: 1000 }), broke, generatorBound: false, serverCpuShare: 0.5, generatorCpuShare: 0.3, cpuPerDeliveryMicros: 1, attempt: 1, ...extra });
    const runs = [
      { target: 'chatter', params: { clients: 1000, rates: [100, 200, 400], warmupMs: 1000, windowMs: 2000, drainMs: 2000 }, result: ladder([mk(100, 100_000, null), mk(200, 150_000, 'p99 300.0 ms > 250 ms', { retried: true }), mk(200, 199_000, null, { attempt: 2 }), mk(400, 300_000, 'delivered 300,000/s < 90% of 400,000/s offered')]) },
      { target: 'ws-coalesce', params: { clients: 1000, rates: [100, 200, 400], warmupMs: 1000, windowMs: 2000, drainMs: 2000 }, result: ladder([mk(100, 100_000, null), mk(200, 200_000, null), mk(400, 398_000, null)]) },
    ];
    const report = capacity.report(runs, { targets: ['chatter', 'ws-coalesce'] });
    assert.match(report.markdown, /\| Chatter \| 199,000 \| 200 \| 50% \| 1,000,000 \| 1\.0 \| 400 msg\/s \| delivered 300,000\/s < 90% of 400,000\/s offered \|/);
    assert.match(report.markdown, /\| coalescing floor \| 398,000 \| 400 \| 50% \| 1,000,000 \| 1\.0 \| did not break \| sustained every step up to 400 msg\/s \|/);
    assert.match(report.markdown, /broke \(p99 300\.0 ms > 250 ms\); retried/);
    assert.match(report.markdown, /Chatter sustained 199,000 deliveries\/s on one core, 0\.50× the coalescing floor's 398,000/);
  });
});
