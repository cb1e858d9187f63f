export declare const importLoader: string
export declare const testFileExtensions: string[]
/** Adds nothing to tap's Test (the loader is the whole plugin). */
export declare const plugin: () => object
