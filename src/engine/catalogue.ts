/**
 * The ImageNet-1k ONNX classifiers the service knows how to fetch. Sizes and sha256 are the
 * ones the ONNX Model Zoo publishes in its Git LFS pointers; a download is only used once it
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
}

export const DEFAULT_MODEL_ID = 'resnet50-v1-12';

// GitHub answers this with a redirect to its LFS media host, so fetchers must follow redirects.
const ZOO_BASE_URL = 'https://github.com/onnx/models/raw/main/validated/vision/classification/';

function zooEntry(id: string, description: string, zooPath: string, bytes: number, sha256: string): CatalogueEntry {
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
  } as const);
}

export const CATALOGUE: readonly CatalogueEntry[] = Object.freeze([
  zooEntry(
    'resnet50-v1-12',
    'ResNet-50 v1 (ONNX Model Zoo, opset 12), fp32',
    'resnet/model/resnet50-v1-12.onnx',
    102576593,
    '3f03fdef724b22947eed826f1eef1dc5c34151bb4c37d634f1db89dfa2dd1526',
  ),
  zooEntry(
    'resnet50-v2-7',
    'ResNet-50 v2 (ONNX Model Zoo, opset 7), fp32',
    'resnet/model/resnet50-v2-7.onnx',
    102442452,
    '79102261eb6e5fd7af5d27f41316293e388c5cb691e5d25bfb035c4f64fefe31',
  ),
  zooEntry(
    'resnet50-v1-12-int8',
    'ResNet-50 v1 (ONNX Model Zoo, opset 12), int8-quantized',
    'resnet/model/resnet50-v1-12-int8.onnx',
    25816052,
    'c234f30975989788b4405f25253275aae247ab6dbdd34aaa69ab0a59ff76f6d0',
  ),
  zooEntry(
    'mobilenetv2-12-int8',
    'MobileNetV2 1.0 (ONNX Model Zoo, opset 12), int8-quantized',
    'mobilenet/model/mobilenetv2-12-int8.onnx',
    3655033,
    'cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f',
  ),
  zooEntry(
    'mobilenetv2-12',
    'MobileNetV2 1.0 (ONNX Model Zoo, opset 12), fp32',
    'mobilenet/model/mobilenetv2-12.onnx',
    13964571,
    'c0c3f76d93fa3fd6580652a45618618a220fced18babf65774ed169de0432ad5',
  ),
]);

export function findCatalogueEntry(id: string): CatalogueEntry | undefined {
  return CATALOGUE.find((entry) => entry.id === id);
}
