/** Which catalogue model to run when the user named none: the int8 ResNet-50 where the CPU runs int8 fast. */
import { DEFAULT_MODEL_ID, INT8_DEFAULT_MODEL_ID } from './catalogue.ts';
import { int8DotProductOf } from './cpu-features.ts';

export interface ModelChoice {
  id: string;
  /** For the start-up log. */
  reason: string;
}

export function defaultModelChoice(flags: ReadonlySet<string>): ModelChoice {
  const int8 = int8DotProductOf(flags);
  if (int8) {
    return {
      id: INT8_DEFAULT_MODEL_ID,
      reason: `the CPU has ${int8} (int8 dot products), where the int8 ResNet-50 runs about 1.8x faster for 0.2 points of top-1; set MODEL_ID=${DEFAULT_MODEL_ID} for fp32`,
    };
  }
  return {
    id: DEFAULT_MODEL_ID,
    reason: `no int8 dot-product instructions (VNNI, AMX) were found on this CPU, so the fp32 ResNet-50; set MODEL_ID=${INT8_DEFAULT_MODEL_ID} to try int8`,
  };
}
