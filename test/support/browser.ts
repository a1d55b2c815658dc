import { chromium, type Browser } from 'playwright-core';

// Debian's Chromium (scripts/setup.sh installs it), driven by playwright-core: Playwright's
// own browser download cannot run on these machines. The flags keep Chromium from
// reaching out to Google's services, which a closed network refuses many times a second.

export const CHROMIUM = process.env.LUMA_CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}
