/**
 * The ImageNet-1k ONNX classifiers the service knows how to fetch. Sizes and sha256 are the
 * ones the ONNX Model Zoo publishes in its Git LFS pointers (accuracies from the READMEs of its resnet and mobilenet folders); a download is only used once it
 * matches both, so these numbers are the trust anchor for every downloaded model.
 */
export interface CatalogueEntry {
  id: string;
  /** One line for humans, e.g. 'ResNet-50 v1 (ONNX Model Zoo, opset 12), fp32'. */
  description: string;
  url: string;
  bytes: number;
  sha256: string;
  inputLayout: 'NCHW';
  inputSize: 224;
  /** resize-256 / center-crop-224 / mean-std: the only preprocessing the engine implements. */
  preprocessing: 'imagenet';
  license: string;
  /** ImageNet validation accuracy (%) as the ONNX Model Zoo publishes it for this file. */
  accuracy: { top1: number; top5: number };
  /** What `npm run bench` measured for this model (SPEED_MEASURED_ON says where); null: not measured. */
  speed: ModelSpeed | null;
}

/**
 * Throughput of the model alone (batch 8, every core) and of `POST /classify` uploads at 16 clients.
 * The shared bench files stand in for the zoo files where they have the same layers (the untrained
 * ResNet-50 copies, fp32 and int8 QDQ; the zoo's int8 file uses QLinear operators).
 */
export interface ModelSpeed {
  model_images_per_s: number;
  service_requests_per_s: number;
}

/** Where the catalogue's speeds were measured: one `npm run bench` run (bench/results/2026-12-05.md). */
export const SPEED_MEASURED_ON = '2-core AMD EPYC VM with AVX512-VNNI, npm run bench of 2026-12-05';

/** The model where nothing better is known about the CPU. */
export const DEFAULT_MODEL_ID = 'resnet50-v1-12';
/** Where the CPU has int8 dot products: 1.8x the throughput for 0.2 points of top-1 (see the accuracy below). */
export const INT8_DEFAULT_MODEL_ID = 'resnet50-v1-12-int8';

// GitHub answers this with a redirect to its LFS media host, so fetchers must follow redirects.
const ZOO_BASE_URL = 'https://github.com/onnx/models/raw/main/validated/vision/classification/';

function zooEntry(
  id: string,
  description: string,
  zooPath: string,
  file: { bytes: number; sha256: string },
  accuracy: CatalogueEntry['accuracy'],
  speed: ModelSpeed | null,
): CatalogueEntry {
  const { bytes, sha256 } = file;
  return Object.freeze({
    id,
    description,
    url: ZOO_BASE_URL + zooPath,
    bytes,
    sha256,
    inputLayout: 'NCHW',
    inputSize: 224,
    preprocessing: 'imagenet',
    license: 'Apache-2.0',
    accuracy,
    speed,
  } as const);
}

export const CATALOGUE: readonly CatalogueEntry[] = Object.freeze([
  zooEntry(
    'resnet50-v1-12',
    'ResNet-50 v1 (ONNX Model Zoo, opset 12), fp32',
    'resnet/model/resnet50-v1-12.onnx',
    { bytes: 102576593, sha256: '3f03fdef724b22947eed826f1eef1dc5c34151bb4c37d634f1db89dfa2dd1526' },
    { top1: 74.97, top5: 92.33 },
    { model_images_per_s: 43.7, service_requests_per_s: 34.6 },
  ),
  zooEntry(
    'resnet50-v2-7',
    'ResNet-50 v2 (ONNX Model Zoo, opset 7), fp32',
    'resnet/model/resnet50-v2-7.onnx',
    { bytes: 102442452, sha256: '79102261eb6e5fd7af5d27f41316293e388c5cb691e5d25bfb035c4f64fefe31' },
    { top1: 75.81, top5: 92.82 },
    null,
  ),
  zooEntry(
    'resnet50-v1-12-int8',
    'ResNet-50 v1 (ONNX Model Zoo, opset 12), int8-quantized',
    'resnet/model/resnet50-v1-12-int8.onnx',
    { bytes: 25816052, sha256: 'c234f30975989788b4405f25253275aae247ab6dbdd34aaa69ab0a59ff76f6d0' },
    { top1: 74.77, top5: 92.32 },
    { model_images_per_s: 75.6, service_requests_per_s: 67.4 },
  ),
  zooEntry(
    'mobilenetv2-12-int8',
    'MobileNetV2 1.0 (ONNX Model Zoo, opset 12), int8-quantized',
    'mobilenet/model/mobilenetv2-12-int8.onnx',
    { bytes: 3655033, sha256: 'cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f' },
    { top1: 68.3, top5: 88.44 },
    { model_images_per_s: 687.1, service_requests_per_s: 222.9 },
  ),
  zooEntry(
    'mobilenetv2-12',
    'MobileNetV2 1.0 (ONNX Model Zoo, opset 12), fp32',
    'mobilenet/model/mobilenetv2-12.onnx',
    { bytes: 13964571, sha256: 'c0c3f76d93fa3fd6580652a45618618a220fced18babf65774ed169de0432ad5' },
    { top1: 69.48, top5: 89.26 },
    null,
  ),
]);

export function findCatalogueEntry(id: string): CatalogueEntry | undefined {
  return CATALOGUE.find((entry) => entry.id === id);
}
