/**
 * The part of the WebAssembly JS API the runtime uses. Node has it as a global, but the project's `lib` (ES2023,
 * no DOM) does not declare it; these declarations follow TypeScript's lib.dom.d.ts.
 */
declare namespace WebAssembly {
  type ImportExportKind = "function" | "global" | "memory" | "table";
  interface ModuleImportDescriptor {
    kind: ImportExportKind;
    module: string;
    name: string;
  }
  interface ModuleExportDescriptor {
    kind: ImportExportKind;
    name: string;
  }
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  type ExportValue = Function | Global | Memory | Table;
  type Exports = Record<string, ExportValue>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  type ImportValue = ExportValue | number | bigint | Function;
  type ModuleImports = Record<string, ImportValue>;
  type Imports = Record<string, ModuleImports>;
  interface Global {
    value: unknown;
  }
  interface Table {
    readonly length: number;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
    static exports(moduleObject: Module): ModuleExportDescriptor[];
    static imports(moduleObject: Module): ModuleImportDescriptor[];
  }
  class Instance {
    constructor(module: Module, importObject?: Imports);
    readonly exports: Exports;
  }
  class RuntimeError extends Error {}
  class CompileError extends Error {}
  class LinkError extends Error {}
}
