// Ambient declarations for modules resolved by the bundler (rspack), not tsc.

declare module '*.svg' {
  const svgstr: string;
  export default svgstr;
}

/**
 * CommonJS `require`, resolved at bundle time (used to inline package.json).
 */
declare function require(id: string): unknown;
