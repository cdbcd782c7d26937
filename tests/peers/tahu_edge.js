// A Sparkplug B edge node driven by Eclipse Tahu's JavaScript client (npm sparkplug-client).
// Used by tests/test_sparkplug_peers.py; prints one JSON line per event on stdout.
//
//   node tahu_edge.js URL GROUP NODE BDSEQ COUNT MODE
//
// Births: NBIRTH (Hall/Temperature Int16 alias 11, Hall/Smoke Float alias 10) and DBIRTH of
// device "smt" (Power Double alias 1, State Int32 alias 2, Counters/Good UInt64 alias 3).
// After each birth: one DDATA of historical (store-and-forward) Power values, then COUNT
// DDATA + NDATA messages that carry aliases only. Answers NCMD Node Control/Rebirth.
// MODE "until-rebirth": after the first (connect) birth, data flows without end until a
// rebirth is requested (a host that starts late must ask); MODE "count": COUNT each time.
"use strict";
const [url, group, node, bdSeqText, countText, mode] = process.argv.slice(2);
const BDSEQ = Number(bdSeqText);
const COUNT = Number(countText);

// Tahu JS 3.2.4 keeps bdSeq at 0 for ever (its will is built once with bdSeq 0). The spec
// wants a new bdSeq per session, so this edge application keeps the count itself and makes
// the library's encoder write it into the NBIRTH and into the will (NDEATH).
const payloads = require("sparkplug-payload").get("spBv1.0");
const encode = payloads.encodePayload;
payloads.encodePayload = (p) => {
  for (const m of p.metrics || []) if (m.name === "bdSeq") m.value = BDSEQ;
  return encode(p);
};
const sparkplug = require("sparkplug-client");

const out = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const client = sparkplug.newClient({
  serverUrl: url, username: "", password: "", groupId: group, edgeNode: node,
  clientId: `tahu-${node}-${process.pid}`, version: "spBv1.0", keepalive: 5,
});

let k = 0;
let limit = mode === "count" ? COUNT : Infinity;
let lastTs = 0;
let timer = null;
const now = () => { lastTs = Math.max(Date.now(), lastTs + 1); return lastTs; };

function births() {
  const ts = now();
  client.publishNodeBirth({ timestamp: ts, metrics: [
    { name: "Hall/Temperature", alias: 11, type: "Int16", value: -7 },
    { name: "Hall/Smoke", alias: 10, type: "Float", value: 0.5 },
    { name: "Node Control/Rebirth", type: "Boolean", value: false },
  ] });
  client.publishDeviceBirth("smt", { timestamp: ts, metrics: [
    { name: "Power", alias: 1, type: "Double", value: 1.25 },
    { name: "State", alias: 2, type: "Int32", value: 1 },
    { name: "Counters/Good", alias: 3, type: "UInt64", value: 0 },
  ] });
  out({ event: "birth", bdSeq: BDSEQ, ts, values: { "Hall/Temperature": -7, "Hall/Smoke": 0.5,
        Power: 1.25, State: 1, "Counters/Good": 0 } });
  const base = ts - 3600000;
  const history = [0, 1, 2].map((i) => ({ alias: 1, type: "Double", value: 10 + i + 0.5,
                                         timestamp: base + i * 1000, isHistorical: true }));
  client.publishDeviceData("smt", { timestamp: now(), metrics: history });
  out({ event: "history", points: history.map((m) => [m.timestamp, m.value]) });
  k = 0;
  if (timer === null) timer = setInterval(tick, 50);
}

function tick() {
  if (k >= limit) return;
  k += 1;
  const ts = now();
  const power = Math.round(k * 37 % 2000) / 100;          // 0..19.99, exact in a Double
  const temp = -20 + (k * 13) % 200;                        // Int16, negative at times
  client.publishDeviceData("smt", { timestamp: ts, metrics: [
    { alias: 1, type: "Double", value: power },
    { alias: 2, type: "Int32", value: k % 5 },
    { alias: 3, type: "UInt64", value: 1000 + k },
  ] });
  client.publishNodeData({ timestamp: ts, metrics: [{ alias: 11, type: "Int16", value: temp }] });
  out({ event: "data", k, ts, phase: limit === Infinity ? "pre" : "post", values: { Power: power, State: k % 5, "Counters/Good": 1000 + k,
        "Hall/Temperature": temp } });
  if (k === limit) out({ event: "done" });
}

client.on("birth", births);
client.on("ncmd", (payload) => {
  for (const m of payload.metrics || []) {
    if (m.name === "Node Control/Rebirth" && m.value) {
      out({ event: "rebirth_requested" });
      limit = COUNT;
      births();
    }
  }
});
client.on("error", (e) => out({ event: "error", message: String(e) }));
process.on("SIGTERM", () => { client.stop(); process.exit(0); });
