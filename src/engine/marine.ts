import type { MarineInfo, TaxonRank } from './types.ts';

/**
 * The ranks a marine class may name. Exactly Camtrap DP 1.0.2's `taxonomic[].taxonRank` enum,
 * so every name here can go into a package unchanged; a class whose true group sits at a rank
 * outside it (subphylum, superfamily, subfamily) names the nearest enclosing rank instead.
 */
export const TAXON_RANKS: readonly TaxonRank[] = [
  'kingdom',
  'phylum',
  'class',
  'order',
  'family',
  'genus',
  'species',
  'subspecies',
];

/** Where a WoRMS AphiaID below was read. Each pairs the name with the ID in public text. */
export const TAXON_ID_SOURCES = {
  amp: 'Add-my-Pet (AmP) collection entry `mydata_<Genus_species>.m`, `metaData.links.id_WoRMS` (public GitHub copy)',
  obisMareano:
    'OBIS API checklist/occurrence responses for the MAREANO datasets, kept verbatim in ogcincubator/bblocks-seadots (OBIS MAREANO Checklist example)',
  obisTraining:
    'OBIS/IOOS Darwin Core training material: "Carcharodon carcharias" linked to marinespecies.org taxdetails&id=105838',
  whaleSightings:
    'Whale-sightings service on GitHub, SPECIES_CONTEXT table "verified against WoRMS (AphiaRecordsByMatchNames)"',
  wormsClassification:
    'A saved WoRMS AphiaClassificationByAphiaID response (Biota > Animalia > Cnidaria > Anthozoa > Hexacorallia > Actiniaria > ...)',
  turtleLsids: 'Sea-turtle WoRMS LSID table on GitHub (TURTLE_SPECIES_LSID: loggerhead 137205, leatherback 137209)',
  namesFixture:
    'Name-checker test fixture on GitHub: "Isopoda" with taxonID urn:lsid:marinespecies.org:taxname:1131 (beside Polychaeta 883, which OBIS confirms)',
} as const;

type SourceKey = keyof typeof TAXON_ID_SOURCES;

interface MarineTaxon {
  group: string;
  scientific_name: string;
  taxon_rank: TaxonRank;
  vernacular_name: string;
  /** WoRMS AphiaID, only where `sources` show it next to this name; null rather than a guess. */
  aphia_id: number | null;
  sources: readonly SourceKey[];
  /** Why this name and rank, where it is not the obvious single species. */
  why?: string;
}

/**
 * ImageNet-1k classes that are marine animals, by output index, with the taxon each class really
 * identifies. Broad classes name the smallest group that holds everything the class covers
 * (WordNet's definition of the synset, and what its images show), not a member of it.
 * ImageNet's freshwater and land classes that could be taken for marine (crayfish 124, otter 360,
 * flatworm 110, shorebirds 139-143, pelican 144) are left out: most of what they show is not marine.
 */
const MARINE: Record<number, MarineTaxon> = {
  2: {
    group: 'shark',
    scientific_name: 'Carcharodon carcharias',
    taxon_rank: 'species',
    vernacular_name: 'great white shark',
    aphia_id: 105838,
    sources: ['obisTraining', 'amp'],
  },
  3: {
    group: 'shark',
    scientific_name: 'Galeocerdo cuvier',
    taxon_rank: 'species',
    vernacular_name: 'tiger shark',
    aphia_id: 105799,
    sources: ['amp'],
  },
  4: {
    group: 'shark',
    scientific_name: 'Sphyrnidae',
    taxon_rank: 'family',
    vernacular_name: 'hammerhead sharks',
    aphia_id: null,
    sources: [],
    why: 'Nine or so hammerheads in Sphyrna and Eusphyra; the photos do not tell them apart.',
  },
  5: {
    group: 'ray',
    scientific_name: 'Torpediniformes',
    taxon_rank: 'order',
    vernacular_name: 'electric rays',
    aphia_id: null,
    sources: [],
    why: 'WordNet: "electric ray, crampfish, numbfish, torpedo", i.e. torpedo rays and numbfishes (Torpedinidae, Narcinidae, ...).',
  },
  6: {
    group: 'ray',
    scientific_name: 'Myliobatiformes',
    taxon_rank: 'order',
    vernacular_name: 'stingrays',
    aphia_id: null,
    sources: [],
    why: 'Rays with a venomous tail spine span several families (Dasyatidae, Urotrygonidae, Potamotrygonidae, ...); Dasyatidae alone would be too precise.',
  },
  33: {
    group: 'sea turtle',
    scientific_name: 'Caretta caretta',
    taxon_rank: 'species',
    vernacular_name: 'loggerhead sea turtle',
    aphia_id: 137205,
    sources: ['amp', 'turtleLsids'],
  },
  34: {
    group: 'sea turtle',
    scientific_name: 'Dermochelys coriacea',
    taxon_rank: 'species',
    vernacular_name: 'leatherback sea turtle',
    aphia_id: 137209,
    sources: ['amp', 'turtleLsids'],
  },
  65: {
    group: 'sea snake',
    scientific_name: 'Elapidae',
    taxon_rank: 'family',
    vernacular_name: 'sea snakes',
    aphia_id: null,
    sources: [],
    why: 'Sea snakes are Hydrophiinae (subfamily) plus the sea kraits Laticauda; Camtrap DP has no subfamily rank, so the enclosing family.',
  },
  107: {
    group: 'cnidarian',
    scientific_name: 'Cnidaria',
    taxon_rank: 'phylum',
    vernacular_name: 'jellyfish',
    aphia_id: 1267,
    sources: ['obisMareano', 'wormsClassification'],
    why: 'WordNet: medusae of scyphozoans and hydrozoans (box jellies look alike too). Their exact group, Medusozoa, is a subphylum, which Camtrap DP cannot name; Scyphozoa would be wrong for the rest.',
  },
  108: {
    group: 'cnidarian',
    scientific_name: 'Actiniaria',
    taxon_rank: 'order',
    vernacular_name: 'sea anemones',
    aphia_id: 1360,
    sources: ['wormsClassification'],
  },
  109: {
    group: 'cnidarian',
    scientific_name: 'Scleractinia',
    taxon_rank: 'order',
    vernacular_name: 'brain coral',
    aphia_id: null,
    sources: [],
    why: 'Brain corals are several genera in more than one family (Diploria, Colpophyllia, Platygyra, Lobophyllia, ...); the stony-coral order holds them all.',
  },
  112: {
    group: 'mollusc',
    scientific_name: 'Strombidae',
    taxon_rank: 'family',
    vernacular_name: 'conchs',
    aphia_id: null,
    sources: [],
    why: 'WordNet puts conchs in Strombus, since split (Aliger, Lobatus, ...) within the family.',
  },
  115: {
    group: 'mollusc',
    scientific_name: 'Nudibranchia',
    taxon_rank: 'order',
    vernacular_name: 'nudibranchs',
    aphia_id: null,
    sources: [],
    why: 'The synset is "sea slug, nudibranch", and its photos are nudibranchs. Sea hares and sap-sucking slugs are also called sea slugs; all of them together are only a subclass (Heterobranchia), which Camtrap DP cannot name, and Gastropoda would throw away what the class knows.',
  },
  116: {
    group: 'mollusc',
    scientific_name: 'Polyplacophora',
    taxon_rank: 'class',
    vernacular_name: 'chitons',
    aphia_id: null,
    sources: [],
  },
  117: {
    group: 'mollusc',
    scientific_name: 'Nautilus',
    taxon_rank: 'genus',
    vernacular_name: 'chambered nautilus',
    aphia_id: null,
    sources: [],
    why: 'Mostly N. pompilius in the photos, but the other Nautilus species (and Allonautilus) look the same.',
  },
  118: {
    group: 'crustacean',
    scientific_name: 'Metacarcinus magister',
    taxon_rank: 'species',
    vernacular_name: 'Dungeness crab',
    aphia_id: null,
    sources: [],
    why: 'Formerly Cancer magister, the name WordNet uses.',
  },
  119: {
    group: 'crustacean',
    scientific_name: 'Cancer irroratus',
    taxon_rank: 'species',
    vernacular_name: 'Atlantic rock crab',
    aphia_id: null,
    sources: [],
  },
  120: {
    group: 'crustacean',
    scientific_name: 'Ocypodidae',
    taxon_rank: 'family',
    vernacular_name: 'fiddler crabs',
    aphia_id: null,
    sources: [],
    why: 'Uca has been split into about ten genera (Leptuca, Minuca, Austruca, ...) in two subfamilies; the family holds them all (and ghost crabs).',
  },
  121: {
    group: 'crustacean',
    scientific_name: 'Paralithodes camtschaticus',
    taxon_rank: 'species',
    vernacular_name: 'red king crab',
    aphia_id: 233889,
    sources: ['amp'],
  },
  122: {
    group: 'crustacean',
    scientific_name: 'Homarus americanus',
    taxon_rank: 'species',
    vernacular_name: 'American lobster',
    aphia_id: 156134,
    sources: ['amp'],
  },
  123: {
    group: 'crustacean',
    scientific_name: 'Palinuridae',
    taxon_rank: 'family',
    vernacular_name: 'spiny lobsters',
    aphia_id: null,
    sources: [],
  },
  125: {
    group: 'crustacean',
    scientific_name: 'Decapoda',
    taxon_rank: 'order',
    vernacular_name: 'hermit crabs',
    aphia_id: 1130,
    sources: ['obisMareano'],
    why: 'Hermit crabs are the superfamily Paguroidea (Paguridae, Diogenidae, Coenobitidae, ...); Camtrap DP has no superfamily, so the enclosing order.',
  },
  126: {
    group: 'crustacean',
    scientific_name: 'Isopoda',
    taxon_rank: 'order',
    vernacular_name: 'isopods',
    aphia_id: 1131,
    sources: ['namesFixture'],
  },
  145: {
    group: 'seabird',
    scientific_name: 'Aptenodytes patagonicus',
    taxon_rank: 'species',
    vernacular_name: 'king penguin',
    aphia_id: null,
    sources: [],
  },
  146: {
    group: 'seabird',
    scientific_name: 'Diomedeidae',
    taxon_rank: 'family',
    vernacular_name: 'albatrosses',
    aphia_id: null,
    sources: [],
  },
  147: {
    group: 'cetacean',
    scientific_name: 'Eschrichtius robustus',
    taxon_rank: 'species',
    vernacular_name: 'grey whale',
    aphia_id: 137112,
    sources: ['amp', 'whaleSightings'],
  },
  148: {
    group: 'cetacean',
    scientific_name: 'Orcinus orca',
    taxon_rank: 'species',
    vernacular_name: 'killer whale',
    aphia_id: 137102,
    sources: ['amp', 'whaleSightings'],
  },
  149: {
    group: 'sirenian',
    scientific_name: 'Dugong dugon',
    taxon_rank: 'species',
    vernacular_name: 'dugong',
    aphia_id: 220227,
    sources: ['amp'],
  },
  150: {
    group: 'pinniped',
    scientific_name: 'Otariidae',
    taxon_rank: 'family',
    vernacular_name: 'sea lions',
    aphia_id: null,
    sources: [],
    why: 'Sea lions are several genera of eared seals, not a group of their own; fur seals, in the same family, look alike.',
  },
  327: {
    group: 'echinoderm',
    scientific_name: 'Asteroidea',
    taxon_rank: 'class',
    vernacular_name: 'starfish',
    aphia_id: null,
    sources: [],
  },
  328: {
    group: 'echinoderm',
    scientific_name: 'Echinoidea',
    taxon_rank: 'class',
    vernacular_name: 'sea urchins',
    aphia_id: 123082,
    sources: ['obisMareano'],
  },
  329: {
    group: 'echinoderm',
    scientific_name: 'Holothuroidea',
    taxon_rank: 'class',
    vernacular_name: 'sea cucumbers',
    aphia_id: 123083,
    sources: ['obisMareano'],
  },
  389: {
    group: 'bony fish',
    scientific_name: 'Thyrsites atun',
    taxon_rank: 'species',
    vernacular_name: 'snoek (barracouta)',
    aphia_id: null,
    sources: [],
  },
  390: {
    group: 'bony fish',
    scientific_name: 'Anguilliformes',
    taxon_rank: 'order',
    vernacular_name: 'eels',
    aphia_id: null,
    sources: [],
    why: 'Moray, conger, garden and freshwater eels all look like "eel"; the order holds them.',
  },
  391: {
    group: 'bony fish',
    scientific_name: 'Oncorhynchus kisutch',
    taxon_rank: 'species',
    vernacular_name: 'coho salmon',
    aphia_id: 127184,
    sources: ['amp'],
  },
  392: {
    group: 'bony fish',
    scientific_name: 'Holacanthus tricolor',
    taxon_rank: 'species',
    vernacular_name: 'rock beauty',
    aphia_id: null,
    sources: [],
  },
  393: {
    group: 'bony fish',
    scientific_name: 'Amphiprion',
    taxon_rank: 'genus',
    vernacular_name: 'anemonefishes',
    aphia_id: null,
    sources: [],
    why: 'About 30 clownfish species; the maroon clownfish, long Premnas biaculeatus, is now usually placed in Amphiprion too.',
  },
  394: {
    group: 'bony fish',
    scientific_name: 'Acipenseridae',
    taxon_rank: 'family',
    vernacular_name: 'sturgeons',
    aphia_id: null,
    sources: [],
  },
  395: {
    group: 'bony fish',
    scientific_name: 'Lepisosteidae',
    taxon_rank: 'family',
    vernacular_name: 'gars',
    aphia_id: null,
    sources: [],
    why: 'ImageNet\'s "gar" photos are the American gars (Lepisosteus, Atractosteus), mostly freshwater and brackish.',
  },
  396: {
    group: 'bony fish',
    scientific_name: 'Pterois',
    taxon_rank: 'genus',
    vernacular_name: 'lionfishes',
    aphia_id: null,
    sources: [],
    why: 'Dwarf lionfishes (Dendrochirus) look alike and would be named Pterois wrongly; the genus is what most photos show.',
  },
  397: {
    group: 'bony fish',
    scientific_name: 'Tetraodontidae',
    taxon_rank: 'family',
    vernacular_name: 'pufferfishes',
    aphia_id: null,
    sources: [],
  },
};

/**
 * Ocean scenes (not animals, so `marine` stays null) that the page and reports still highlight.
 * Wreck, coral reef, seashore and scuba diver from the start; breakwater, promontory, sandbar and
 * snorkel because their photos are coasts and shallow water, though lakes have some too.
 */
export const OCEAN_SCENE_INDICES: readonly number[] = [460, 801, 913, 973, 976, 977, 978, 983];

export const MARINE_CLASS_INDICES: readonly number[] = Object.keys(MARINE).map(Number);

const LSID_PREFIX = 'urn:lsid:marinespecies.org:taxname:';

export function marineInfoOf(index: number): MarineInfo | null {
  const taxon = MARINE[index];
  if (!taxon) return null;
  return {
    group: taxon.group,
    scientific_name: taxon.scientific_name,
    taxon_rank: taxon.taxon_rank,
    vernacular_name: taxon.vernacular_name,
    taxon_id: taxon.aphia_id === null ? null : `${LSID_PREFIX}${taxon.aphia_id}`,
  };
}

/** The full row for docs and tests: the answer's fields plus where the ID was verified and why this rank. */
export function marineTaxonOf(index: number): (MarineInfo & { sources: string[]; why: string | null }) | null {
  const info = marineInfoOf(index);
  const taxon = MARINE[index];
  if (!info || !taxon) return null;
  return { ...info, sources: taxon.sources.map((key) => TAXON_ID_SOURCES[key]), why: taxon.why ?? null };
}
