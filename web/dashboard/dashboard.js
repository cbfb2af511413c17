// Tally's creator dashboard: a reference client of the GraphQL API. It signs in with
// `logIn`, keeps its tokens in sessionStorage (this tab only, never in a URL), exchanges the
// refresh token for a new pair when the 15-minute access token is refused, and reads
// `creatorAnalytics`, `viewer { videos }` and `video { visibleLikers }` over POST /graphql.
// Everything shown is written with textContent: nothing from the API is parsed as HTML.
'use strict';

(function dashboard() {
  const TOKEN_KEY = 'tally.dashboard.token';
  const REFRESH_KEY = 'tally.dashboard.refresh';
  const PAGE = 20;
  const SVG = 'http://www.w3.org/2000/svg';
  const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
  const number = new Intl.NumberFormat('en');
  const percent = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 });

  const $ = (id) => document.getElementById(id);

  /** An element `tag` with `attrs` (`class`, `text`, attributes) and `children`. */
  function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    setAll(node, attrs);
    node.append(...children);
    return node;
  }

  /** An SVG element. */
  function svg(tag, attrs = {}, children = []) {
    const node = document.createElementNS(SVG, tag);
    setAll(node, attrs);
    node.append(...children);
    return node;
  }

  function setAll(node, attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'text') node.textContent = value;
      else if (name === 'class') node.setAttribute('class', value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
  }

  // ---- The API -------------------------------------------------------------------------

  /** An error the API answered with: its message and `extensions.code`. */
  class ApiError extends Error {
    constructor(message, code) {
      super(message);
      this.code = code;
    }
  }

  const REFRESH = `mutation Refresh($r: String!) {
    refreshSession(refreshToken: $r) { token refreshToken }
  }`;

  /** Stores the tokens of an `AuthPayload`. */
  function keepTokens(payload) {
    sessionStorage.setItem(TOKEN_KEY, payload.token);
    sessionStorage.setItem(REFRESH_KEY, payload.refreshToken);
  }

  // One refresh at a time: a refresh token is good once, and presenting it twice ends the
  // session (reuse detection), so concurrent requests wait on the same exchange.
  let refreshing = null;

  /** Exchanges the refresh token for a new pair; whether that worked. */
  function refreshTokens() {
    if (!refreshing) {
      const refreshToken = sessionStorage.getItem(REFRESH_KEY);
      sessionStorage.removeItem(TOKEN_KEY);
      refreshing = (refreshToken
        ? gql(REFRESH, { r: refreshToken }, false)
            .then((data) => { keepTokens(data.refreshSession); return true; })
            .catch(() => false)
        : Promise.resolve(false)
      ).finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  /** Runs a GraphQL operation as the signed-in account; its `data`, or an ApiError. An
   * access token that is refused is refreshed once (`mayRefresh`) and the operation resent. */
  async function gql(query, variables = {}, mayRefresh = true) {
    if (refreshing && mayRefresh) await refreshing;
    const headers = {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json, application/json;q=0.9',
      'X-Tally-Device': 'web',
    };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch('/graphql', {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables }),
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch (e) {
      throw new ApiError('Tally could not be reached. Check your connection and try again.', 'NETWORK');
    }
    let body;
    try {
      body = await response.json();
    } catch (e) {
      throw new ApiError(`Tally answered with HTTP ${response.status}.`, 'INTERNAL');
    }
    const first = body.errors && body.errors[0];
    if (first) {
      const code = (first.extensions && first.extensions.code) || 'INTERNAL';
      if (code === 'UNAUTHENTICATED' && token && response.status === 401 && mayRefresh) {
        if (await refreshTokens()) return gql(query, variables, false);
        signOut('Your session has ended: sign in again.');
      }
      throw new ApiError(first.message, code);
    }
    return body.data;
  }

  const LOG_IN = `mutation LogIn($input: LogInInput!) {
    logIn(input: $input) { token refreshToken user { handle } }
  }`;

  const VIEWER = `query Viewer { viewer { handle displayName accountType } }`;

  const BREAKDOWN = `available withheldReason population
    ageBrackets { key count share } regions { key count share }
    languages { key count share } devices { key count share }`;

  const TOP_VIDEOS = `topVideos(first: 10, by: $by) {
    video { id caption likeCount }
    stats { views likes engagementRate ownPercentile niche nichePercentile }
  }`;

  const ANALYTICS = `query Analytics($window: AnalyticsWindow!, $by: VideoRanking!) {
    creatorAnalytics(window: $window) {
      window from to
      totals { views likes unlikes newFollowers lostFollowers followerCount watchTimeMs engagementRate }
      daily { day views likes newFollowers lostFollowers }
      peakHours { dayOfWeek hour views likes followerViews }
      audience { viewers { ${BREAKDOWN} } likers { ${BREAKDOWN} } followers { ${BREAKDOWN} } }
      ${TOP_VIDEOS}
    }
  }`;

  const TOP = `query TopVideos($window: AnalyticsWindow!, $by: VideoRanking!) {
    creatorAnalytics(window: $window) { ${TOP_VIDEOS} }
  }`;

  const VIDEOS = `query Videos($after: String) {
    viewer {
      videos(first: ${PAGE}, after: $after) {
        edges { node { id caption createdAt likeCount viewCount } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }`;

  const LIKERS = `query Likers($id: ID!, $after: String) {
    video(id: $id) {
      id caption likeCount
      visibleLikers(first: ${PAGE}, after: $after) {
        totalCount hiddenCount
        edges { likedAt node { handle displayName } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }`;

  // ---- State ---------------------------------------------------------------------------

  const state = {
    analytics: null,
    videosCursor: null,
    likers: { id: null, cursor: null },
  };

  // ---- Signing in and out --------------------------------------------------------------

  function showSignIn(message) {
    $('dashboard').hidden = true;
    $('account').hidden = true;
    $('sign-in').hidden = false;
    $('sign-in-error').textContent = message || '';
    $('handle').focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(REFRESH_KEY);
    state.analytics = null;
    showSignIn(message);
  }

  async function signIn(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector('button[type="submit"]');
    const handle = $('handle').value.trim().replace(/^@/, '');
    const password = $('password').value;
    if (!handle || !password) {
      $('sign-in-error').textContent = 'Enter your handle and your password.';
      return;
    }
    button.disabled = true;
    $('sign-in-error').textContent = '';
    try {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(REFRESH_KEY);
      const data = await gql(LOG_IN, { input: { handle, password } }, false);
      keepTokens(data.logIn);
      $('password').value = '';
      await openDashboard();
    } catch (e) {
      const messages = {
        UNAUTHENTICATED: 'That handle and password do not match an account.',
        RATE_LIMITED: 'Too many attempts: wait a minute and try again.',
      };
      $('sign-in-error').textContent = messages[e.code] || e.message;
    } finally {
      button.disabled = false;
    }
  }

  async function openDashboard() {
    const { viewer } = await gql(VIEWER);
    if (!viewer) {
      signOut();
      return;
    }
    $('sign-in').hidden = true;
    $('dashboard').hidden = false;
    $('account').hidden = false;
    $('account-name').textContent = `@${viewer.handle}`;
    $('dashboard-title').textContent = `${viewer.displayName}'s dashboard`;
    $('dashboard-title').focus();
    $('likers').hidden = true;
    const creator = viewer.accountType === 'CREATOR';
    $('analytics').hidden = !creator;
    $('no-analytics').hidden = creator;
    const loads = [loadVideos(false)];
    if (creator) loads.push(loadAnalytics());
    await Promise.all(loads);
  }

  // ---- Analytics -----------------------------------------------------------------------

  async function loadAnalytics() {
    const variables = { window: $('window').value, by: $('top-by').value };
    setStatus('Loading analytics…');
    try {
      const { creatorAnalytics } = await gql(ANALYTICS, variables);
      state.analytics = creatorAnalytics;
      renderAnalytics(creatorAnalytics);
      setStatus('');
    } catch (e) {
      if (e.code === 'FORBIDDEN') {
        // The account is not (or no longer) a creator: its videos still show.
        $('analytics').hidden = true;
        $('no-analytics').hidden = false;
        setStatus('');
      } else {
        setStatus(`Analytics could not be loaded: ${e.message}`);
      }
    }
  }

  async function loadTopVideos() {
    const variables = { window: $('window').value, by: $('top-by').value };
    try {
      const { creatorAnalytics } = await gql(TOP, variables);
      renderTopVideos(creatorAnalytics.topVideos);
    } catch (e) {
      setStatus(`Top videos could not be loaded: ${e.message}`);
    }
  }

  function renderAnalytics(a) {
    $('analytics-range').textContent = `${formatDay(a.from)} to ${formatDay(a.to)} (UTC days)`;
    renderTotals(a.totals);
    renderDaily(a.daily);
    renderHeatmap(a.peakHours, $('heat-metric').value);
    renderAudience(a.audience);
    renderTopVideos(a.topVideos);
  }

  function renderTotals(t) {
    const items = [
      ['Views', number.format(t.views)],
      ['Likes', number.format(t.likes)],
      ['New followers', number.format(t.newFollowers)],
      ['Followers now', number.format(t.followerCount)],
      ['Engagement rate', t.engagementRate === null ? '—' : percent.format(t.engagementRate)],
      ['Watch time', formatDuration(t.watchTimeMs)],
    ];
    $('totals').replaceChildren(
      ...items.map(([term, value]) =>
        el('div', { class: 'total' }, [el('dt', { text: term }), el('dd', { text: value })])),
    );
  }

  const SERIES = [
    { key: 'views', label: 'Views', class: 'series-views' },
    { key: 'likes', label: 'Likes', class: 'series-likes' },
    { key: 'newFollowers', label: 'New followers', class: 'series-followers' },
  ];

  function renderDaily(daily) {
    $('daily-charts').replaceChildren(...SERIES.map((s) => lineChart(daily, s)));
  }

  /** One series of `daily` as an SVG line, with its figures in a table below for those
   *  who do not see the line. */
  function lineChart(daily, series) {
    const values = daily.map((d) => d[series.key]);
    const max = Math.max(1, ...values);
    const total = values.reduce((a, b) => a + b, 0);
    const width = 600;
    const height = 160;
    const step = daily.length > 1 ? width / (daily.length - 1) : width;
    const y = (v) => (height - 4 - (v / max) * (height - 8)).toFixed(1);
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${y(v)}`).join(' ');
    const busiest = daily[values.indexOf(Math.max(...values))];
    const id = `chart-${series.key}`;
    const summary = `${series.label}: ${number.format(total)} over ${daily.length} days, ` +
      `at most ${number.format(Math.max(...values))} a day` +
      (busiest && total > 0 ? ` (${formatDay(busiest.day)}).` : '.');
    const chart = svg('svg', {
      viewBox: `0 0 ${width} ${height}`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-labelledby': `${id}-title`,
      'aria-describedby': `${id}-desc`,
      class: `line-chart ${series.class}`,
    }, [
      svg('title', { id: `${id}-title`, text: `${series.label} per day` }),
      svg('desc', { id: `${id}-desc`, text: summary }),
      svg('line', { x1: 0, y1: height - 4, x2: width, y2: height - 4, class: 'axis' }),
      svg('line', { x1: 0, y1: 4, x2: width, y2: 4, class: 'grid' }),
      svg('polyline', { points, class: 'line', 'vector-effect': 'non-scaling-stroke' }),
    ]);
    const table = el('table', { class: 'numbers' }, [
      el('caption', { text: `${series.label} per day` }),
      el('thead', {}, [el('tr', {}, [
        el('th', { scope: 'col', text: 'Day' }),
        el('th', { scope: 'col', text: series.label }),
      ])]),
      el('tbody', {}, daily.map((d) => el('tr', {}, [
        el('th', { scope: 'row', text: formatDay(d.day) }),
        el('td', { text: number.format(d[series.key]) }),
      ]))),
    ]);
    return el('figure', { class: 'chart', id }, [
      el('figcaption', {}, [
        el('span', { class: 'chart-title', text: series.label }),
        el('span', { class: 'muted', text: ` ${number.format(total)} in total` }),
      ]),
      el('div', { class: 'chart-frame' }, [
        el('span', { class: 'chart-max', 'aria-hidden': 'true', text: number.format(max) }),
        chart,
      ]),
      el('div', { class: 'chart-axis', 'aria-hidden': 'true' }, [
        el('span', { text: daily.length ? formatDay(daily[0].day) : '' }),
        el('span', { text: daily.length ? formatDay(daily[daily.length - 1].day) : '' }),
      ]),
      el('details', {}, [el('summary', { text: `${series.label}: the numbers` }), table]),
    ]);
  }

  const HEAT_LABELS = { views: 'views', likes: 'likes', followerViews: 'views by followers' };

  /** The 7 × 24 hours of the week as a table: rows Monday to Sunday, columns 0 to 23 h UTC,
   *  each cell shaded by its share of the busiest hour and holding its figure as text. */
  function renderHeatmap(hours, metric) {
    const grid = DAYS.map(() => new Array(24).fill(0));
    for (const h of hours) grid[h.dayOfWeek - 1][h.hour] = h[metric];
    const max = Math.max(0, ...hours.map((h) => h[metric]));
    const level = (v) => (v === 0 || max === 0 ? 0 : 1 + Math.min(3, Math.floor((4 * v) / (max + 1))));
    const what = HEAT_LABELS[metric];
    const head = el('tr', {}, [el('td', { class: 'corner' })].concat(
      // Every third hour is labelled on screen; all 24 are for screen readers.
      Array.from({ length: 24 }, (_, hour) => el('th', { scope: 'col', class: 'hour' }, [
        hour % 3 === 0 ? String(hour) : el('span', { class: 'visually-hidden', text: String(hour) }),
      ])),
    ));
    const rows = DAYS.map((day, d) => el('tr', {}, [
      el('th', { scope: 'row', text: day.slice(0, 3), 'aria-label': day }),
    ].concat(grid[d].map((v, hour) => el('td', {
      class: `heat heat-${level(v)}`,
      title: `${day} ${String(hour).padStart(2, '0')}:00 UTC: ${number.format(v)} ${what}`,
      'data-day': d + 1,
      'data-hour': hour,
    }, [el('span', { class: 'visually-hidden', text: number.format(v) })])))));
    const legend = el('p', { class: 'legend' }, [
      el('span', { text: 'Fewer' }),
      ...[0, 1, 2, 3, 4].map((l) => el('span', { class: `swatch heat-${l}`, 'aria-hidden': 'true' })),
      el('span', { text: `More ${what} (busiest hour: ${number.format(max)})` }),
    ]);
    $('heatmap').replaceChildren(
      el('table', { class: 'heatmap' }, [
        el('caption', { text: `${capitalize(what)} by hour of the week (UTC), summed over the window` }),
        el('thead', {}, [head]),
        el('tbody', {}, rows),
      ]),
      legend,
    );
  }

  const AUDIENCES = [['viewers', 'Viewers'], ['likers', 'Likers'], ['followers', 'Followers']];
  const DIMENSIONS = [
    ['ageBrackets', 'Age'],
    ['regions', 'Region'],
    ['languages', 'Language'],
    ['devices', 'Device'],
  ];
  const WITHHELD = {
    BELOW_MINIMUM_AUDIENCE: 'Not shown: too few distinct accounts to show without singling '
      + 'people out (below the minimum audience).',
  };

  function renderAudience(audience) {
    $('audience').replaceChildren(...AUDIENCES.map(([key, label]) => breakdown(key, label, audience[key])));
  }

  function breakdown(key, label, b) {
    const id = `breakdown-${key}`;
    if (!b.available) {
      return el('article', { class: 'breakdown withheld', id, 'aria-labelledby': `${id}-title` }, [
        el('h4', { id: `${id}-title`, text: label }),
        el('p', { class: 'withheld-reason', text: WITHHELD[b.withheldReason] || `Not shown (${b.withheldReason}).` }),
      ]);
    }
    const dims = DIMENSIONS.filter(([dim]) => Array.isArray(b[dim])).map(([dim, title]) =>
      el('div', { class: 'dimension' }, [
        el('h5', { text: title }),
        el('ul', { class: 'bars' }, b[dim].map(bar)),
      ]));
    return el('article', { class: 'breakdown', id, 'aria-labelledby': `${id}-title` }, [
      el('h4', { id: `${id}-title`, text: label }),
      el('p', { class: 'muted', text: `${number.format(b.population)} distinct accounts` }),
      ...dims,
    ]);
  }

  function bar(bucket) {
    const fill = el('span', { class: 'bar-fill' });
    // CSSOM, not a style attribute: allowed by the page's Content-Security-Policy.
    fill.style.width = `${Math.max(0, Math.min(100, bucket.share * 100)).toFixed(1)}%`;
    return el('li', {}, [
      el('span', { class: 'bar-label', text: bucketName(bucket.key) }),
      el('span', { class: 'bar-track', 'aria-hidden': 'true' }, [fill]),
      el('span', { class: 'bar-value', text: `${number.format(bucket.count)} (${percent.format(bucket.share)})` }),
    ]);
  }

  function bucketName(key) {
    const names = { OTHER: 'Other', UNKNOWN: 'Not given' };
    return names[key] || key.replace(/_/g, ' ');
  }

  function renderTopVideos(top) {
    if (top.length === 0) {
      $('top-videos').replaceChildren(el('p', { class: 'muted', text: 'No videos yet.' }));
      return;
    }
    const percentile = (p) => (p === null ? '—' : `${Math.round(p)}`);
    const rows = top.map(({ video, stats }) => el('tr', {}, [
      el('th', { scope: 'row' }, [likersButton(video)]),
      el('td', { text: number.format(stats.views) }),
      el('td', { text: number.format(stats.likes) }),
      el('td', { text: stats.engagementRate === null ? '—' : percent.format(stats.engagementRate) }),
      el('td', { class: 'own-percentile', text: percentile(stats.ownPercentile) }),
      el('td', { class: 'niche-percentile' }, [
        el('span', { text: percentile(stats.nichePercentile) }),
        stats.niche ? el('span', { class: 'muted', text: ` #${stats.niche}` }) : '',
      ]),
    ]));
    const table = el('table', { class: 'top-videos' }, [
      el('caption', { text: 'Ranked over the window; figures are all-time. Percentiles: 0–100, '
        + 'higher is better engagement than your other videos, or than the niche\'s recent public videos.' }),
      el('thead', {}, [el('tr', {}, ['Video', 'Views', 'Likes', 'Engagement', 'Among yours', 'In its niche']
        .map((h) => el('th', { scope: 'col', text: h })))]),
      el('tbody', {}, rows),
    ]);
    $('top-videos').replaceChildren(
      el('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Top videos table' }, [table]),
    );
  }

  // ---- Videos and likers ---------------------------------------------------------------

  /** A button that shows `video`'s likers. */
  function likersButton(video) {
    const button = el('button', {
      type: 'button',
      class: 'link',
      'data-video': video.id,
      text: video.caption || 'Untitled video',
    });
    button.setAttribute('aria-label', `${video.caption || 'Untitled video'}: show likers`);
    button.addEventListener('click', () => loadLikers(video.id, false));
    return button;
  }

  async function loadVideos(more) {
    try {
      const { viewer } = await gql(VIDEOS, { after: more ? state.videosCursor : null });
      const { edges, pageInfo } = viewer.videos;
      const items = edges.map(({ node }) => el('li', { class: 'video' }, [
        likersButton(node),
        el('span', { class: 'muted', text: ` ${formatDay(node.createdAt.slice(0, 10))} · `
          + `${number.format(node.viewCount)} views · ${number.format(node.likeCount)} likes` }),
      ]));
      if (more) $('video-list').append(...items);
      else $('video-list').replaceChildren(...items);
      if (!more && items.length === 0) {
        $('video-list').replaceChildren(el('li', { class: 'muted', text: 'No videos yet.' }));
      }
      state.videosCursor = pageInfo.endCursor;
      $('more-videos').hidden = !pageInfo.hasNextPage;
    } catch (e) {
      setStatus(`Your videos could not be loaded: ${e.message}`);
    }
  }

  async function loadLikers(id, more) {
    try {
      const after = more ? state.likers.cursor : null;
      const { video } = await gql(LIKERS, { id, after });
      $('likers').hidden = false;
      if (!video) {
        $('likers-title').textContent = 'Likers';
        $('likers-summary').textContent = 'This video is gone.';
        $('liker-list').replaceChildren();
        $('likers-hidden').textContent = '';
        $('more-likers').hidden = true;
        return;
      }
      const likers = video.visibleLikers;
      state.likers = { id, cursor: likers.pageInfo.endCursor };
      $('likers-title').textContent = `Likers of “${video.caption || 'Untitled video'}”`;
      $('likers-summary').textContent = `${number.format(video.likeCount)} likes in all.`;
      const items = likers.edges.map(({ node, likedAt }) => el('li', {}, [
        el('span', { class: 'liker-name', text: node.displayName }),
        el('span', { class: 'muted', text: ` @${node.handle} · ${formatDay(likedAt.slice(0, 10))}` }),
      ]));
      if (more) $('liker-list').append(...items);
      else $('liker-list').replaceChildren(...items);
      $('likers-hidden').textContent = hiddenSentence(likers.totalCount, likers.hiddenCount);
      $('more-likers').hidden = !likers.pageInfo.hasNextPage;
      if (!more) $('likers-title').focus();
    } catch (e) {
      setStatus(`The likers could not be loaded: ${e.message}`);
    }
  }

  /** "and N others who keep their likes private", or what fits when none is visible. */
  function hiddenSentence(visible, hidden) {
    if (hidden === 0) return visible === 0 ? 'No likes yet.' : '';
    const n = number.format(hidden);
    if (visible === 0) {
      return hidden === 1 ? '1 person liked this and keeps their likes private.'
        : `${n} people liked this and keep their likes private.`;
    }
    return hidden === 1 ? 'and 1 other who keeps their likes private'
      : `and ${n} others who keep their likes private`;
  }

  // ---- Formatting ----------------------------------------------------------------------

  function setStatus(text) {
    $('status').textContent = text;
  }

  function formatDay(day) {
    const [y, m, d] = day.split('-').map(Number);
    return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString('en', {
      day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC',
    });
  }

  function formatDuration(ms) {
    const minutes = Math.round(ms / 60000);
    if (minutes < 60) return `${minutes} min`;
    return `${number.format(Math.floor(minutes / 60))} h ${minutes % 60} min`;
  }

  function capitalize(text) {
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // ---- Start ---------------------------------------------------------------------------

  function start() {
    $('sign-in-form').addEventListener('submit', signIn);
    $('sign-out').addEventListener('click', async () => {
      // Ends the session on the server too, so that its tokens stop working everywhere.
      try {
        await gql('mutation LogOut { logOut }', {}, false);
      } catch (e) {
        // Signed out locally either way.
      }
      signOut('You have signed out.');
    });
    $('window').addEventListener('change', loadAnalytics);
    $('top-by').addEventListener('change', loadTopVideos);
    $('heat-metric').addEventListener('change', () => {
      if (state.analytics) renderHeatmap(state.analytics.peakHours, $('heat-metric').value);
    });
    $('more-videos').addEventListener('click', () => loadVideos(true));
    $('more-likers').addEventListener('click', () => loadLikers(state.likers.id, true));
    if (sessionStorage.getItem(TOKEN_KEY)) {
      openDashboard().catch((e) => {
        if (e.code !== 'UNAUTHENTICATED') signOut(e.message);
      });
    } else {
      showSignIn();
    }
  }

  start();
}());
