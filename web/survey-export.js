// The survey downloads: the finished photos as a Camtrap DP package or a Darwin Core Archive, made
// by the service (POST /jobs/{id}/export) from the jobs that classified them. The standards need a
// contributor, a project title and where the camera was; a small form asks for them, and when the
// service refuses (no contributor, a deployment without coordinates) its own message is shown.
import { download } from './download.js';
import { errorOf } from './jobs.js';

/**
 * @typedef {import('./jobs.js').ItemError} ItemError
 * @typedef {'camtrap-dp'|'dwc-a'} SurveyFormat
 * @typedef {{ ids: string[], pending: number }} FinishedJobs
 * @typedef {{ baseUrl: string, headers: () => Record<string, string>, jobs: () => FinishedJobs,
 *   onAuthRequired: (error: ItemError) => void }} SurveyExportConfig
 */

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ ($(id));

const NAMES = /** @type {Record<SurveyFormat, string>} */ ({
  'camtrap-dp': 'Camtrap DP package',
  'dwc-a': 'Darwin Core Archive',
});

/**
 * The export request's body from the form, for one job.
 * @param {SurveyFormat} format
 * @param {string} jobId
 * @returns {Record<string, unknown>}
 */
export function exportBody(format, jobId) {
  const name = input('survey-name').value.trim();
  const email = input('survey-email').value.trim();
  const title = input('survey-title').value.trim();
  const deployment = input('survey-deployment').value.trim();
  const contributor = [name, email ? `<${email}>` : ''].filter(Boolean).join(' ');
  /** @type {Record<string, unknown>} */
  const body = { format };
  if (contributor) body.contributor = [contributor];
  if (title) body.project_title = title;
  if (deployment) body.deployment = deployment;
  const latitude = input('survey-latitude').value.trim();
  const longitude = input('survey-longitude').value.trim();
  if (latitude !== '' || longitude !== '') {
    // Given here, the coordinates are the deployment's row; the service checks them like the CLI's --deployments.
    /** @type {Record<string, string | number>} */
    const row = { deploymentID: deployment || jobId };
    if (latitude !== '') row.latitude = Number(latitude);
    if (longitude !== '') row.longitude = Number(longitude);
    const depth = input('survey-depth').value.trim();
    if (depth !== '') row.cameraDepth = Number(depth);
    body.deployments = [row];
  }
  return body;
}

/** @param {Response} response */
function fileNameOf(response, fallback = 'survey.zip') {
  const match = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '');
  return match ? match[1] : fallback;
}

/** @param {SurveyExportConfig} config */
export function createSurveyExport(config) {
  const form = /** @type {HTMLFormElement} */ ($('survey-form'));
  const status = $('survey-status');
  const error = $('survey-error');
  const submit = /** @type {HTMLButtonElement} */ ($('survey-download'));
  const openers = /** @type {HTMLButtonElement[]} */ ([$('download-camtrap'), $('download-dwca')]);

  /** @param {SurveyFormat} format */
  function open(format) {
    form.hidden = false;
    const radio = /** @type {HTMLInputElement} */ (form.querySelector(`input[name="format"][value="${format}"]`));
    radio.checked = true;
    syncLabel();
    const first = ['survey-name', 'survey-title'].map(input).find((i) => !i.value.trim()) ?? submit;
    first.focus();
  }

  function format() {
    return /** @type {SurveyFormat} */ (new FormData(form).get('format') ?? 'camtrap-dp');
  }

  function syncLabel() {
    submit.textContent = `Download ${NAMES[format()]}`;
  }

  openers[0].addEventListener('click', () => open('camtrap-dp'));
  openers[1].addEventListener('click', () => open('dwc-a'));
  form.addEventListener('change', syncLabel);
  $('survey-close').addEventListener('click', () => {
    form.hidden = true;
    openers[0].focus();
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(format());
  });

  /** @param {SurveyFormat} chosen */
  async function run(chosen) {
    error.textContent = '';
    const { ids, pending } = config.jobs();
    if (ids.length === 0) {
      error.textContent = 'No finished photos or videos to publish yet.';
      return;
    }
    submit.disabled = true;
    status.textContent = `Asking the service for the ${NAMES[chosen]}…`;
    let saved = 0;
    try {
      for (const id of ids) {
        const response = await fetch(`${config.baseUrl}/jobs/${encodeURIComponent(id)}/export`, {
          method: 'POST',
          headers: { ...config.headers(), 'Content-Type': 'application/json', Accept: 'application/zip' },
          body: JSON.stringify(exportBody(chosen, id)),
        });
        if (!response.ok) {
          const refused = await errorOf(response);
          if (response.status === 401 || response.status === 403) config.onAuthRequired(refused);
          error.textContent = `The service did not make the ${NAMES[chosen]}: ${refused.message}`;
          status.textContent = '';
          return;
        }
        download(await response.blob(), 'application/zip', fileNameOf(response, `job-${id}-${chosen}.zip`));
        saved++;
      }
      // The page sends photos in jobs of a few each: one package per job.
      const each = saved > 1 ? ` (${saved} files: the page sent the photos in ${saved} jobs, one file each)` : '';
      const waiting = pending > 0 ? ` ${pending} photos still being classified are not in it.` : '';
      status.textContent = `Downloaded the ${NAMES[chosen]}${each}.${waiting}`;
    } catch (err) {
      error.textContent = `Could not reach the service: ${/** @type {Error} */ (err).message}`;
      status.textContent = '';
    } finally {
      submit.disabled = false;
    }
  }

  return {
    /** @param {boolean} enabled there are finished photos */
    setEnabled(enabled) {
      for (const button of openers) button.disabled = !enabled;
    },
  };
}
