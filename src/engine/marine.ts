import type { MarineInfo } from './types.ts';

/**
 * ImageNet-1k classes that are marine animals, by output index.
 * `scientific_name` is set only where the ImageNet class is a single species or genus;
 * classes that span families or orders (stingray, sea lion, jellyfish, ...) keep it null
 * rather than suggest a precision the model does not have.
 */
const MARINE: Record<number, MarineInfo> = {
  2: { group: 'shark', scientific_name: 'Carcharodon carcharias' }, // great white shark
  3: { group: 'shark', scientific_name: 'Galeocerdo cuvier' }, // tiger shark
  4: { group: 'shark', scientific_name: null }, // hammerhead (family Sphyrnidae)
  5: { group: 'ray', scientific_name: null }, // electric ray
  6: { group: 'ray', scientific_name: null }, // stingray
  33: { group: 'sea turtle', scientific_name: 'Caretta caretta' }, // loggerhead
  34: { group: 'sea turtle', scientific_name: 'Dermochelys coriacea' }, // leatherback turtle
  65: { group: 'sea snake', scientific_name: null }, // sea snake
  107: { group: 'cnidarian', scientific_name: null }, // jellyfish
  108: { group: 'cnidarian', scientific_name: null }, // sea anemone
  109: { group: 'cnidarian', scientific_name: null }, // brain coral
  112: { group: 'mollusc', scientific_name: null }, // conch
  115: { group: 'mollusc', scientific_name: null }, // sea slug
  116: { group: 'mollusc', scientific_name: null }, // chiton
  117: { group: 'mollusc', scientific_name: 'Nautilus' }, // chambered nautilus
  118: { group: 'crustacean', scientific_name: 'Metacarcinus magister' }, // Dungeness crab
  119: { group: 'crustacean', scientific_name: 'Cancer irroratus' }, // rock crab
  120: { group: 'crustacean', scientific_name: null }, // fiddler crab
  121: { group: 'crustacean', scientific_name: 'Paralithodes camtschaticus' }, // king crab
  122: { group: 'crustacean', scientific_name: 'Homarus americanus' }, // American lobster
  123: { group: 'crustacean', scientific_name: null }, // spiny lobster
  125: { group: 'crustacean', scientific_name: null }, // hermit crab
  126: { group: 'crustacean', scientific_name: null }, // isopod
  145: { group: 'seabird', scientific_name: 'Aptenodytes patagonicus' }, // king penguin
  146: { group: 'seabird', scientific_name: null }, // albatross
  147: { group: 'cetacean', scientific_name: 'Eschrichtius robustus' }, // grey whale
  148: { group: 'cetacean', scientific_name: 'Orcinus orca' }, // killer whale
  149: { group: 'sirenian', scientific_name: 'Dugong dugon' }, // dugong
  150: { group: 'pinniped', scientific_name: null }, // sea lion
  327: { group: 'echinoderm', scientific_name: null }, // starfish
  328: { group: 'echinoderm', scientific_name: null }, // sea urchin
  329: { group: 'echinoderm', scientific_name: null }, // sea cucumber
  389: { group: 'bony fish', scientific_name: 'Thyrsites atun' }, // barracouta
  390: { group: 'bony fish', scientific_name: null }, // eel
  391: { group: 'bony fish', scientific_name: 'Oncorhynchus kisutch' }, // coho
  392: { group: 'bony fish', scientific_name: 'Holacanthus tricolor' }, // rock beauty
  393: { group: 'bony fish', scientific_name: null }, // anemone fish
  394: { group: 'bony fish', scientific_name: null }, // sturgeon
  395: { group: 'bony fish', scientific_name: null }, // gar
  396: { group: 'bony fish', scientific_name: null }, // lionfish
  397: { group: 'bony fish', scientific_name: null }, // puffer
};

/** Ocean scenes (not animals, so `marine` stays null) that the page and reports still highlight. */
export const OCEAN_SCENE_INDICES: readonly number[] = [913, 973, 978, 983]; // wreck, coral reef, seashore, scuba diver

export const MARINE_CLASS_INDICES: readonly number[] = Object.keys(MARINE).map(Number);

export function marineInfoOf(index: number): MarineInfo | null {
  return MARINE[index] ?? null;
}
