/**
 * What a machine classification means as a Camtrap DP observation: a marine animal (with the
 * taxon its class identifies), another animal, a person (ImageNet's "scuba diver"), an empty
 * scene or object ("blank"), an answer below the threshold ("unknown"), or a file that could not
 * be classified ("unclassified"). Photos and video spans go through the same rules.
 */
import type { ClassificationResult, MarineInfo, Prediction } from '../engine/types.ts';

/** ImageNet-1k's classes 0-397 are animals (tench ... puffer); the rest are objects and scenes. */
const LAST_IMAGENET_ANIMAL = 397;
const SCUBA_DIVER = 983;

export type ObservationType = 'animal' | 'human' | 'blank' | 'unknown' | 'unclassified';

export interface MachineObservation {
  observationType: ObservationType;
  scientificName: string | null;
  /** The probability of the class the observation reports; null where it reports none. */
  probability: number | null;
  /** The taxon behind scientificName, for the package's taxonomic coverage. */
  marine?: MarineInfo | null;
}

/** An answer (not `unknown`) that is this ImageNet class, with this probability. */
export function observationOfClass(top: Prediction, probability = top.probability): MachineObservation {
  if (top.marine)
    return {
      observationType: 'animal',
      scientificName: top.marine.scientific_name,
      probability,
      marine: top.marine,
    };
  if (top.index <= LAST_IMAGENET_ANIMAL) return { observationType: 'animal', scientificName: null, probability };
  if (top.index === SCUBA_DIVER) return { observationType: 'human', scientificName: null, probability };
  return { observationType: 'blank', scientificName: null, probability };
}

export function observationOf(result: ClassificationResult | undefined): MachineObservation {
  if (!result) return { observationType: 'unclassified', scientificName: null, probability: null };
  const top = result.top1;
  if (result.unknown || !top) return { observationType: 'unknown', scientificName: null, probability: null };
  return observationOfClass(top);
}
