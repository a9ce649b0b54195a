import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * Custom classes (issue 15) need the model's pooled features, the vector the final classifier
 * reads. ONNX Runtime can only return graph outputs, so the loaded graph gets that tensor as a
 * second output: the same run then answers logits and features, and the logits are untouched
 * (nothing on their path changes, only a consumer is added beside it).
 */
export const EMBEDDING_OUTPUT = 'marine_classifier_embedding';

export type EmbeddingGraph =
  | { ok: true; model: Uint8Array; output: string; feature: string }
  | { ok: false; why: string };

/** Ops between the classifier and the logits: the walk passes through them to their data input. */
const PASS_THROUGH = new Set([
  'Add',
  'QLinearAdd',
  'DequantizeLinear',
  'QuantizeLinear',
  'Reshape',
  'Flatten',
  'Squeeze',
  'Identity',
  'Softmax',
  'Cast',
]);
/** The final classifier: its data input (input 0) is the pooled feature vector. */
const FLOAT_CLASSIFIERS = new Set(['Gemm', 'MatMul', 'Conv']);
/** Quantized classifiers take (x, x_scale, x_zero_point, ...): the feature is x, dequantized by its own scale. */
const QUANTIZED_CLASSIFIERS = new Set(['QLinearMatMul', 'QGemm', 'QLinearConv']);
/** A walk longer than this has left the classifier's tail (a deep graph, not a head). */
const MAX_STEPS = 12;

// Decoded messages are instances of these classes, whose repeated fields are always arrays.
type Model = onnxProto.onnx.ModelProto;
type Graph = onnxProto.onnx.GraphProto;
type Node = onnxProto.onnx.NodeProto;

/** The model bytes with the pooled features as an extra float output, or why none was found. */
export function withEmbeddingOutput(modelBytes: Uint8Array): EmbeddingGraph {
  let model: Model;
  try {
    model = onnx.ModelProto.decode(modelBytes);
  } catch (err) {
    return { ok: false, why: `the file could not be read as an ONNX model (${(err as Error).message})` };
  }
  const graph = model.graph as Graph | null;
  if (!graph || graph.output.length === 0) return { ok: false, why: 'the model has no graph outputs' };
  const nodes = graph.node as Node[];
  const producers = new Map<string, Node>();
  for (const node of nodes) for (const output of node.output) producers.set(output, node);
  const constants = new Set([
    ...graph.initializer.map((t) => t.name ?? ''),
    ...nodes.filter((n) => n.opType === 'Constant').flatMap((n) => n.output),
  ]);
  const dataInput = (node: Node) => node.input.find((name) => name !== '' && !constants.has(name));

  let tensor = graph.output[0].name ?? '';
  for (let step = 0; step < MAX_STEPS; step++) {
    const node = producers.get(tensor);
    if (!node) return { ok: false, why: `the walk back from the logits reached ${tensor}, which no node makes` };
    const input = dataInput(node);
    if (!input) return { ok: false, why: `${node.opType} before the logits has no data input` };
    if (PASS_THROUGH.has(node.opType)) {
      tensor = input;
      continue;
    }
    if (QUANTIZED_CLASSIFIERS.has(node.opType)) {
      if (node.input[0] !== input) return { ok: false, why: `${node.opType}'s first input is a constant` };
      const added = addDequantized(graph, node.input[0], node.input[1], node.input[2]);
      return finish(model, graph, added, node.input[0], node.opType === 'QLinearConv');
    }
    if (FLOAT_CLASSIFIERS.has(node.opType)) {
      // In QDQ models a DequantizeLinear feeds the classifier; ONNX Runtime fuses the pair into an
      // int8 kernel only while that float tensor is not a graph output, so the quantized tensor
      // is exposed through a DequantizeLinear of our own instead (the same values).
      const source = producers.get(input);
      if (source?.opType === 'DequantizeLinear' && source.input[0] && !constants.has(source.input[0])) {
        const added = addDequantized(graph, source.input[0], source.input[1], source.input[2]);
        return finish(model, graph, added, source.input[0], node.opType === 'Conv');
      }
      return finish(model, graph, input, input, node.opType === 'Conv');
    }
    return { ok: false, why: `the logits come from ${node.opType}, not a classifier this walk knows` };
  }
  return { ok: false, why: 'no classifier within a few nodes of the logits' };
}

function uniqueName(graph: Graph, base: string): string {
  const taken = new Set([
    ...(graph.node as Node[]).flatMap((n) => n.output),
    ...graph.input.map((v) => v.name),
    ...graph.initializer.map((t) => t.name),
  ]);
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}

function addDequantized(
  graph: Graph,
  quantized: string,
  scale: string | undefined,
  zeroPoint: string | undefined,
): string {
  const output = uniqueName(graph, `${EMBEDDING_OUTPUT}_dequantized`);
  graph.node.push(
    onnx.NodeProto.create({
      opType: 'DequantizeLinear',
      name: output,
      input: [quantized, scale ?? '', ...(zeroPoint ? [zeroPoint] : [])],
      output: [output],
    }),
  );
  return output;
}

/** Adds the graph output; a 1x1-convolution classifier's input is [N, C, 1, 1], flattened to [N, C]. */
function finish(model: Model, graph: Graph, floatTensor: string, feature: string, flatten: boolean): EmbeddingGraph {
  let output = floatTensor;
  if (flatten) {
    output = uniqueName(graph, `${EMBEDDING_OUTPUT}_flat`);
    graph.node.push(
      onnx.NodeProto.create({
        opType: 'Flatten',
        name: output,
        input: [floatTensor],
        output: [output],
        attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
      }),
    );
  }
  // A graph output must be a tensor some node makes (or an input); an Identity gives it a stable name.
  const name = uniqueName(graph, EMBEDDING_OUTPUT);
  graph.node.push(onnx.NodeProto.create({ opType: 'Identity', name, input: [output], output: [name] }));
  graph.output.push(
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }),
  );
  return { ok: true, model: onnx.ModelProto.encode(model).finish(), output: name, feature };
}
