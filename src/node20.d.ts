// String.prototype.toWellFormed ships with Node 20 (V8 11.3), but TypeScript declares it only in
// lib ES2024, which also declares what Node 20 lacks (Promise.withResolvers, Object.groupBy).
interface String {
  /** The string with every lone surrogate replaced by U+FFFD. */
  toWellFormed: () => string
}
