import onnxProto from 'onnx-proto';
import { cpuFlags, int8DotProductOf } from './cpu-features.ts';

const { onnx } = onnxProto;
type Graph = onnxProto.onnx.GraphProto;
type Tensor = onnxProto.onnx.ITensorProto;

/**
 * ONNX Runtime multiplies uint8 activations by int8 weights with AVX2's vpmaddubsw where the CPU
 * has no int8 dot-product instruction (VNNI, AMX). That instruction adds pairs of products into a
 * saturating int16, so large activations times large weights are clipped and the answers drift:
 * on an AVX2-only AMD EPYC the shared MobileNetV2 called the shared great white shark a "gar"
 * (0.76) where the reference, and any VNNI machine, says great white shark (0.805440).
 *
 * Shifting every int8 weight and its zero point by +128 to uint8 gives the same real values
 * (w - zero point is unchanged) and sends ONNX Runtime to its uint8 x uint8 kernel, which widens
 * to int16 before multiplying and cannot saturate: the outputs then match the reference to the
 * last printed digit. ONNX Runtime has no option for this, so the loaded graph is edited here.
 */

const INT8 = onnx.TensorProto.DataType.INT8;
const UINT8 = onnx.TensorProto.DataType.UINT8;

/** True where int8 weights must be made unsigned: x86-64 without an int8 dot-product instruction. */
export function needsUnsignedWeights(arch: string = process.arch, flags: ReadonlySet<string> = cpuFlags()): boolean {
  return arch === 'x64' && int8DotProductOf(flags) === null;
}

/** Initializers that are weights or weight zero points of a quantized convolution or product. */
function weightSlots(graph: Graph, initializers: Map<string, Tensor>): { slots: Set<string>; others: Set<string> } {
  const slots = new Set<string>();
  const others = new Set<string>();
  const isInt8 = (name: string | undefined) => !!name && initializers.get(name)?.dataType === INT8;
  for (const node of graph.node) {
    const inputs = (node.input ?? []) as string[];
    let weightInputs: number[] = [];
    if (node.opType === 'QLinearConv' || node.opType === 'QLinearMatMul') weightInputs = [3, 5];
    // QDQ models: a DequantizeLinear of an int8 constant is a weight; of a tensor, an activation.
    else if (node.opType === 'DequantizeLinear' && isInt8(inputs[0]) && isInt8(inputs[2])) weightInputs = [0, 2];
    inputs.forEach((name, index) => {
      if (!isInt8(name)) return;
      (weightInputs.includes(index) ? slots : others).add(name);
    });
  }
  return { slots, others };
}

function toUnsigned(tensor: Tensor): void {
  const raw = tensor.rawData;
  const signed =
    raw && raw.length > 0
      ? new Int8Array(raw.buffer, raw.byteOffset, raw.length)
      : Int8Array.from(tensor.int32Data as number[]);
  const unsigned = new Uint8Array(signed.length);
  for (let i = 0; i < signed.length; i++) unsigned[i] = signed[i] + 128;
  tensor.dataType = UINT8;
  tensor.rawData = unsigned;
  tensor.int32Data = [];
}

/**
 * The model with its int8 weights shifted to uint8, or null when there are none to shift (or an
 * int8 constant is also used elsewhere, where shifting it would change the model's meaning).
 */
export function withUnsignedWeights(modelBytes: Uint8Array): Uint8Array | null {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(modelBytes);
  } catch {
    return null; // The loader reports an unreadable model in its own words.
  }
  const graph = model.graph as Graph | null;
  if (!graph) return null;
  const initializers = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const { slots, others } = weightSlots(graph, initializers);
  if (slots.size === 0 || [...slots].some((name) => others.has(name))) return null;
  for (const name of slots) toUnsigned(initializers.get(name) as Tensor);
  return onnx.ModelProto.encode(model).finish();
}
