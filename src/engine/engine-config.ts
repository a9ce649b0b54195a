import type { Settings } from '../settings/table.ts';
import type { ClassifierOptions } from './classifier.ts';

/** The engine's part of the settings, the same for every command that loads the model. */
export type EngineSettings = Pick<
  Settings,
  | 'modelPath'
  | 'modelId'
  | 'cacheDir'
  | 'download'
  | 'intraOpThreads'
  | 'parallelSessions'
  | 'soloSession'
  | 'decodeThreads'
  | 'maxBatch'
  | 'maxWaitMs'
  | 'maxPixels'
  | 'decodePixelBudget'
  | 'allowSpinning'
  | 'resize'
  | 'jpegDecoder'
  | 'executionProvider'
>;

/** ClassifierOptions from loaded settings; unset ones are left out, so the engine chooses (threads from cores, ...). */
export function engineOptionsOf(settings: EngineSettings): ClassifierOptions {
  const options: ClassifierOptions = {
    modelPath: settings.modelPath,
    modelId: settings.modelId,
    cacheDir: settings.cacheDir,
    download: settings.download,
    intraOpThreads: settings.intraOpThreads,
    parallelSessions: settings.parallelSessions,
    soloSession: settings.soloSession,
    decodeThreads: settings.decodeThreads,
    maxBatch: settings.maxBatch,
    maxWaitMs: settings.maxWaitMs,
    maxPixels: settings.maxPixels,
    decodePixelBudget: settings.decodePixelBudget,
    allowSpinning: settings.allowSpinning,
    resize: settings.resize,
    jpegDecoder: settings.jpegDecoder,
    executionProvider: settings.executionProvider,
  };
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as ClassifierOptions;
}
