/**
 * A Camtrap DP package as a Darwin Core Archive (occurrence core, meta.xml, eml.xml), the form
 * GBIF and OBIS ingest, following the Camtrap DP -> Darwin Core mapping that camtraptor's
 * write_dwc() publishes: one occurrence per animal observation, a MachineObservation,
 * unverified, identified by the model. Zipped with fflate (no native code, no temporary files).
 */
import { zipSync, strToU8 } from 'fflate';
import type { CamtrapPackage } from './camtrap-dp.ts';
import type { Row } from './columns.ts';

const DWC = 'http://rs.tdwg.org/dwc/terms/';
const DCTERMS = 'http://purl.org/dc/terms/';

/** occurrence.txt's columns: [name, term URI]. */
const OCCURRENCE_TERMS: [string, string][] = [
  ['occurrenceID', `${DWC}occurrenceID`],
  ['type', `${DCTERMS}type`],
  ['basisOfRecord', `${DWC}basisOfRecord`],
  ['datasetName', `${DWC}datasetName`],
  ['occurrenceStatus', `${DWC}occurrenceStatus`],
  ['eventID', `${DWC}eventID`],
  ['parentEventID', `${DWC}parentEventID`],
  ['eventDate', `${DWC}eventDate`],
  ['habitat', `${DWC}habitat`],
  ['samplingProtocol', `${DWC}samplingProtocol`],
  ['samplingEffort', `${DWC}samplingEffort`],
  ['locationID', `${DWC}locationID`],
  ['locality', `${DWC}locality`],
  ['minimumDepthInMeters', `${DWC}minimumDepthInMeters`],
  ['maximumDepthInMeters', `${DWC}maximumDepthInMeters`],
  ['decimalLatitude', `${DWC}decimalLatitude`],
  ['decimalLongitude', `${DWC}decimalLongitude`],
  ['geodeticDatum', `${DWC}geodeticDatum`],
  ['coordinateUncertaintyInMeters', `${DWC}coordinateUncertaintyInMeters`],
  ['identifiedBy', `${DWC}identifiedBy`],
  ['dateIdentified', `${DWC}dateIdentified`],
  ['identificationRemarks', `${DWC}identificationRemarks`],
  ['identificationVerificationStatus', `${DWC}identificationVerificationStatus`],
  ['taxonID', `${DWC}taxonID`],
  ['scientificName', `${DWC}scientificName`],
  ['kingdom', `${DWC}kingdom`],
  ['taxonRank', `${DWC}taxonRank`],
  ['vernacularName', `${DWC}vernacularName`],
  ['associatedMedia', `${DWC}associatedMedia`],
];

type Cell = string | number | boolean | null | undefined;

/** Tab-separated text has no quoting: tabs and line breaks inside a value become spaces. */
function tsvCell(value: Cell): string {
  return value === null || value === undefined ? '' : String(value).replace(/[\t\r\n]+/g, ' ');
}

function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c,
  );
}

function occurrencesOf(pkg: CamtrapPackage): Record<string, Cell>[] {
  const deployments = new Map(pkg.tables.deployments.map((d) => [String(d.deploymentID), d]));
  const media = new Map(pkg.tables.media.map((m) => [String(m.mediaID), m]));
  const taxa = new Map(
    (
      pkg.datapackage.taxonomic as {
        scientificName: string;
        taxonID?: string;
        taxonRank?: string;
        vernacularNames?: { eng?: string };
      }[]
    ).map((t) => [t.scientificName, t]),
  );
  const title = String(pkg.datapackage.title ?? '');
  return pkg.tables.observations
    .filter((o) => o.observationType === 'animal')
    .map((o: Row<string>) => {
      const deployment = deployments.get(String(o.deploymentID)) ?? {};
      const file = media.get(String(o.mediaID));
      const taxon = taxa.get(String(o.scientificName));
      const probability = o.classificationProbability;
      return {
        occurrenceID: o.observationID,
        type: String(file?.fileMediatype ?? '').startsWith('video/') ? 'MovingImage' : 'StillImage',
        basisOfRecord: 'MachineObservation',
        datasetName: title,
        occurrenceStatus: 'present',
        // A photo is its own event; a video's span is the event its observation names.
        eventID: o.observationLevel === 'event' ? o.eventID : (o.mediaID ?? o.eventID),
        parentEventID: o.deploymentID,
        eventDate: o.eventStart === o.eventEnd ? o.eventStart : `${o.eventStart}/${o.eventEnd}`,
        habitat: deployment.habitat,
        samplingProtocol: 'camera trap',
        samplingEffort: `${deployment.deploymentStart}/${deployment.deploymentEnd}`,
        locationID: deployment.locationID,
        locality: deployment.locationName,
        minimumDepthInMeters: deployment.cameraDepth,
        maximumDepthInMeters: deployment.cameraDepth,
        decimalLatitude: deployment.latitude,
        decimalLongitude: deployment.longitude,
        geodeticDatum: 'EPSG:4326',
        coordinateUncertaintyInMeters: deployment.coordinateUncertainty,
        identifiedBy: o.classifiedBy,
        dateIdentified: o.classificationTimestamp,
        identificationRemarks:
          probability === null || probability === undefined
            ? null
            : `classified by a machine with probability ${probability}`,
        identificationVerificationStatus: 'unverified',
        taxonID: taxon?.taxonID,
        scientificName: o.scientificName,
        kingdom: 'Animalia',
        taxonRank: taxon?.taxonRank,
        vernacularName: taxon?.vernacularNames?.eng,
        associatedMedia: file?.filePath,
      };
    });
}

function occurrenceText(rows: Record<string, Cell>[]): string {
  const lines = [OCCURRENCE_TERMS.map(([name]) => name).join('\t')];
  for (const row of rows) lines.push(OCCURRENCE_TERMS.map(([name]) => tsvCell(row[name])).join('\t'));
  return `${lines.join('\n')}\n`;
}

function metaXml(): string {
  const fields = OCCURRENCE_TERMS.map(([, term], index) => `    <field index="${index}" term="${term}"/>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
  <core encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="${DWC}Occurrence">
    <files>
      <location>occurrence.txt</location>
    </files>
    <id index="0"/>
${fields}
  </core>
</archive>
`;
}

function emlXml(pkg: CamtrapPackage): string {
  const p = pkg.datapackage as {
    id: string;
    title: string;
    contributors: { title: string; email?: string; role: string }[];
    temporal: { start: string; end: string };
  };
  const people = p.contributors
    .map(
      (c) =>
        `    <creator><individualName><surName>${escapeXml(c.title)}</surName></individualName>${c.email ? `<electronicMailAddress>${escapeXml(c.email)}</electronicMailAddress>` : ''}</creator>`,
    )
    .join('\n');
  const contact = p.contributors[0];
  return `<?xml version="1.0" encoding="UTF-8"?>
<eml:eml xmlns:eml="https://eml.ecoinformatics.org/eml-2.2.0" packageId="${escapeXml(p.id)}" system="marine-classifier">
  <dataset>
    <title>${escapeXml(p.title)}</title>
${people}
    <abstract><para>Machine classifications of survey media by Marine Classifier (unverified). Converted from a Camtrap DP 1.0.2 package.</para></abstract>
    <coverage><temporalCoverage><rangeOfDates><beginDate><calendarDate>${p.temporal.start}</calendarDate></beginDate><endDate><calendarDate>${p.temporal.end}</calendarDate></endDate></rangeOfDates></temporalCoverage></coverage>
    <contact><individualName><surName>${escapeXml(contact.title)}</surName></individualName>${contact.email ? `<electronicMailAddress>${escapeXml(contact.email)}</electronicMailAddress>` : ''}</contact>
  </dataset>
</eml:eml>
`;
}

/** The archive's bytes: occurrence.txt, meta.xml and eml.xml in a zip. */
export function darwinCoreArchiveOf(pkg: CamtrapPackage): Uint8Array {
  return zipSync({
    'occurrence.txt': strToU8(occurrenceText(occurrencesOf(pkg))),
    'meta.xml': strToU8(metaXml()),
    'eml.xml': strToU8(emlXml(pkg)),
  });
}
