/**
 * What the CPU can do that changes which model is fastest. Linux lists the instruction set
 * extensions in /proc/cpuinfo; elsewhere (macOS, Windows) nothing is known and the answer is the
 * safe one.
 */
import { readFileSync } from 'node:fs';

/** x86 extensions that give int8 dot products, which ONNX Runtime's int8 kernels use (VNNI, AMX). */
export const INT8_DOT_PRODUCT_FLAGS = ['amx_int8', 'avx512_vnni', 'avx_vnni'] as const;

/** The flags of the first processor in a /proc/cpuinfo text. */
export function cpuFlagsOf(cpuinfo: string): Set<string> {
  const line = /^flags\s*:(.*)$/m.exec(cpuinfo);
  return new Set(line ? line[1].trim().split(/\s+/) : []);
}

/** This machine's CPU flags; empty where /proc/cpuinfo does not exist. */
export function cpuFlags(): Set<string> {
  try {
    return cpuFlagsOf(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return new Set();
  }
}

/** The first int8 dot-product extension the CPU has, or null. */
export function int8DotProductOf(flags: ReadonlySet<string>): string | null {
  return INT8_DOT_PRODUCT_FLAGS.find((flag) => flags.has(flag)) ?? null;
}
