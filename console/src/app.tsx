import { useEffect, useState } from 'preact/hooks';
import { feeds, restartFeeds } from './api/feeds.js';
import { onSignedOut } from './api/http.js';
import { useFeed } from './api/hooks.js';
import { hasSession, signInWithCode, signOut, takeCodeFromUrl } from './api/session.js';
import { Connection } from './components/badges.js';
import { useRoute, type Route } from './router.js';
import { ApplyView } from './views/apply.js';
import { ImageView } from './views/image.js';
import { LeasesView } from './views/leases.js';
import { Overview } from './views/overview.js';
import { ProjectView } from './views/project.js';
import { SignIn } from './views/sign-in.js';
import { StudioView } from './views/studio.js';
import { UsageView } from './views/usage.js';

// The shell: sign-in until there is a session, then a header with the views and the
// state of the live connection, and the view the address names.

type Session = 'checking' | 'signed-in' | { out: string | undefined };

export function App() {
  const [session, setSession] = useState<Session>('checking');
  useEffect(() => {
    void start().then(setSession);
    return onSignedOut(() => setSession({ out: 'Your session has ended: sign in again.' }));
  }, []);
  if (session === 'checking') return <p class="muted">Loading…</p>;
  if (session !== 'signed-in')
    return (
      <SignIn
        key={session.out ?? ''}
        {...(session.out ? { notice: session.out } : {})}
        onSignedIn={() => {
          restartFeeds();
          setSession('signed-in');
        }}
      />
    );
  return <Shell onSignOut={() => void signOut().then(() => setSession({ out: undefined }))} />;
}

async function start(): Promise<Session> {
  const code = takeCodeFromUrl();
  if (code !== undefined) {
    try {
      await signInWithCode(code);
      return 'signed-in';
    } catch (error) {
      return { out: error instanceof Error ? error.message : String(error) };
    }
  }
  return (await hasSession()) ? 'signed-in' : { out: undefined };
}

const NAV: Array<{ view: Route['view']; label: string; hash: string }> = [
  { view: 'overview', label: 'Overview', hash: '#/' },
  { view: 'leases', label: 'Leases', hash: '#/leases' },
  { view: 'apply', label: 'Apply', hash: '#/apply' },
  { view: 'usage', label: 'Usage', hash: '#/usage' },
  { view: 'studio', label: 'Studio', hash: '#/studio' },
];

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const route = useRoute();
  const projects = useFeed(feeds.projects);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          Luma
        </a>
        <nav aria-label="Views">
          {NAV.map((item) => (
            <a key={item.view} href={item.hash} aria-current={route.view === item.view ? 'page' : undefined}>
              {item.label}
            </a>
          ))}
        </nav>
        <Connection state={projects.state} what="Live updates" />
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <View route={route} />
      </main>
    </>
  );
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'project':
      return <ProjectView name={route.name} />;
    case 'image':
      return <ImageView name={route.name} />;
    case 'leases':
      return <LeasesView />;
    case 'apply':
      return <ApplyView />;
    case 'usage':
      return <UsageView />;
    case 'studio':
      return <StudioView {...(route.kind ? { kind: route.kind } : {})} {...(route.name ? { name: route.name } : {})} />;
    default:
      return <Overview />;
  }
}
