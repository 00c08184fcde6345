/**
 * Event attributes as the events table stores them (migration 13). A JSON object per row
 * repeated its keys in every row: 55 MB of a busy day's 347 MB, e.g.
 * `{"instance":"postfix","daemon":"smtpd","service":"smtp","clientName":null}`. Now the key
 * list (the shape) is stored once in `attr_shapes` and a row holds its values after the shape's
 * id: `[3,"postfix","smtpd","smtp",null]`. Rows written before migration 13 keep their JSON
 * object (first character `{`); both read back as the same object.
 *
 * Shape ids belong to the database: the writing thread assigns them inside the batch's
 * transaction (Store.commitBatch), so that two processes writing the same database, or a parse
 * worker and inline parsing in one, never give one id two shapes. The parse side only splits
 * an object into its shape text and its values (splitAttrs).
 */
import type { AttrValue, LogEvent } from '../events.js';

export type Attrs = NonNullable<LogEvent['attrs']>;

/** A key list seen, reached key by key from SHAPES (a trie): a row's shape is found without building its text. */
interface ShapeNode { next: Map<string, ShapeNode>; keys: string[]; text: string | null }

const SHAPES: ShapeNode = { next: new Map(), keys: [], text: null };
/** Key lists kept at most (parsers make a few dozen); beyond, shapes are built per row. */
const MAX_SHAPE_NODES = 4096;
let shapeNodes = 0;

/**
 * An attributes object as its shape (its keys as a JSON array, the text attr_shapes holds) and
 * its values, in the order JSON.stringify gives the object, as what follows the shape id in the
 * stored array: `,"smtpd",1]`, or `]` for none. Keys whose value is undefined are left out, as
 * JSON.stringify leaves them out of the object. The shape's text is the same string each time
 * (kept in SHAPES): building it per row cost up to twice JSON.stringify of the object; this way
 * parsing is about 2% dearer than with JSON.stringify (measured on the busy day).
 */
export function splitAttrs(a: Attrs): [shape: string, values: string] {
  let node: ShapeNode = SHAPES;
  const keys = Object.keys(a);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (a[k] === undefined) return splitSlowly(a);
    let next: ShapeNode | undefined = node.next.get(k);
    if (next === undefined) {
      if (shapeNodes >= MAX_SHAPE_NODES) return splitSlowly(a);
      shapeNodes++;
      next = { next: new Map(), keys: [...node.keys, k], text: null };
      node.next.set(k, next);
    }
    node = next;
  }
  node.text ??= JSON.stringify(node.keys);
  return [node.text, keys.length ? ',' + JSON.stringify(Object.values(a)).slice(1) : ']'];
}

/** splitAttrs for an object with undefined values, or past MAX_SHAPE_NODES. */
function splitSlowly(a: Attrs): [shape: string, values: string] {
  const keys: string[] = [];
  const values: AttrValue[] = [];
  for (const k of Object.keys(a)) {
    const v = a[k];
    if (v === undefined) continue;
    keys.push(k);
    values.push(v);
  }
  return [JSON.stringify(keys), values.length ? ',' + JSON.stringify(values).slice(1) : ']'];
}

/** The attrs column of a row: its shape's id and its values as splitAttrs gives them (the writer has SQLite join the two: EVENT_ROW in index.ts). */
export function storedAttrs(shapeId: number, values: string): string {
  return '[' + shapeId + values;
}

/** The attrs column back as the object that was stored; `keysOf` gives a shape id's keys. */
export function decodeAttrs(text: string, keysOf: (shapeId: number) => string[]): Attrs {
  // Rows from before migration 13.
  if (text.charCodeAt(0) === 123 /* { */) return JSON.parse(text) as Attrs;
  const row = JSON.parse(text) as [number, ...AttrValue[]];
  const keys = keysOf(row[0]);
  if (keys.length !== row.length - 1) throw new Error(`attrs of shape ${row[0]} hold ${row.length - 1} values for ${keys.length} keys`);
  const out: Attrs = {};
  for (let i = 0; i < keys.length; i++) {
    // As JSON.parse makes it: an own property, never the prototype.
    if (keys[i] === '__proto__') Object.defineProperty(out, '__proto__', { value: row[i + 1], enumerable: true, writable: true, configurable: true });
    else out[keys[i]] = row[i + 1];
  }
  return out;
}
