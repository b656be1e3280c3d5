// Dev only: knobs that put the previewed window into a given state for a screenshot.
//   ?theme=dark (or ?state=dark)   force the dark colours whatever the system says
//   ?tab=backups|activity|settings select a tab
//   ?do=verify        click every Verify (the mock makes the oldest backup damaged)
//      =restore       open the restore dialog on the newest backup (preview step)
//      =restored      ...and confirm it, ending on the result
//      =browse        open Browse… on the newest backup, open audio_files, tick the deleted file
//      =restore-selected  ...then Restore selected… (the restore dialog's preview step)
//      =backup        click "Back up now"
//      =pause-menu    open the pause menu
//      =save-error    submit settings with a relative source (field error)
//      =setup-error   submit the setup form empty
//      =setup         fill in the setup form with the seed's paths and submit it
//      =advanced      open the settings tab's Advanced section
// <html data-overflow-x="true|false"> reports horizontal overflow, for scripted checks.

const params = new URLSearchParams(location.search);

if (params.get('theme') === 'dark' || params.get('state') === 'dark') {
  for (const link of document.querySelectorAll('link[href$="dark.css"]')) link.media = 'all';
}

async function waitFor(selector, test = (el) => el, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const el = document.querySelector(selector);
    if (el && test(el)) return el;
    if (Date.now() > end) throw new Error(`preview: ${selector} did not appear`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
const enabled = (el) => !el.disabled && !el.hidden;

const actions = {
  async verify() {
    await waitFor('.verify-btn', enabled);
    for (const b of document.querySelectorAll('.verify-btn')) b.click();
  },
  async restore() {
    (await waitFor('.restore-btn', enabled)).click();
    await waitFor('#restore-confirm', enabled);
  },
  async restored() {
    await actions.restore();
    document.querySelector('#restore-confirm').click();
  },
  async browse() {
    (await waitFor('.browse-btn', enabled)).click();
    (await waitFor('#browse-tree li.entry[data-path="audio_files"] .entry-toggle')).click();
    (await waitFor('li.entry[data-state="deleted"] .entry-check')).click();
  },
  async 'restore-selected'() {
    await actions.browse();
    document.querySelector('#browse-restore').click();
    await waitFor('#restore-confirm', enabled);
  },
  async backup() {
    (await waitFor('#backup-now', enabled)).click();
  },
  async 'pause-menu'() {
    (await waitFor('#pause-menu', (el) => !el.hidden)).open = true;
  },
  async 'save-error'() {
    (await waitFor('#tab-settings')).click();
    const source = await waitFor('#source', (el) => el.value);
    source.value = 'DrumGen Scorer';
    document.querySelector('#save-settings').click();
  },
  async 'setup-error'() {
    (await waitFor('#setup-save')).click();
  },
  async setup() {
    const save = await waitFor('#setup-save');
    const type = (selector, value) => {
      const input = document.querySelector(selector);
      input.value = value;
      input.dispatchEvent(new Event('input', { bubbles: true }));
    };
    type('#source', '/home/ana/DrumGen Scorer');
    type('#include', 'drumgen.db, audio_files, illugen_audio');
    type('#destination', '/media/ana/Backups/DrumGen Scorer DB backups');
    save.click();
  },
  async advanced() {
    (await waitFor('#tab-settings')).click();
    (await waitFor('details.advanced')).open = true;
    document.querySelector('details.advanced').scrollIntoView();
  },
};

async function main() {
  const tab = params.get('tab');
  if (tab) (await waitFor(`#tab-${tab}`)).click();
  await actions[params.get('do')]?.();
}

main().catch((err) => console.error(err));

setInterval(() => {
  const root = document.documentElement;
  root.dataset.overflowX = String(root.scrollWidth > root.clientWidth);
}, 250);
