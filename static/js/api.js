// The HTTP API (/api/v1/): JSON in and out, the session cookie, and Django's CSRF token on unsafe calls.
// No DOM here beyond reading the cookie.

export class ApiError extends Error {
  constructor(status, message, code = "") {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

function errorText(data, status) {
  if (typeof data?.message === "string") return data.message;
  if (typeof data?.detail === "string") return data.detail;
  if (Array.isArray(data?.detail) && data.detail.length) return data.detail.map((item) => item.msg).join("; ");
  return status >= 500 ? "The server had a problem; try again in a moment." : `Request failed (${status}).`;
}

// `body` is sent as JSON, or as multipart when it is FormData (a file upload; the browser sets the boundary).
async function request(method, path, body) {
  const isForm = body instanceof FormData;
  const headers = { Accept: "application/json" };
  if (body !== undefined && !isForm) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined || isForm ? body : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "Cannot reach the server. Check your connection.", "network");
  }
  if (response.status === 401) {
    location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname + location.hash)}`);
    throw new ApiError(401, "Your session has ended; sign in again.", "unauthenticated");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, errorText(data, response.status), data?.code || "");
  return data;
}

// List endpoints may answer with a bare array or an object holding it; accept both.
function listIn(data, key) {
  if (Array.isArray(data)) return data;
  if (Array.isArray(data?.[key])) return data[key];
  if (Array.isArray(data?.items)) return data.items;
  return [];
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// A file upload with progress (fetch cannot report upload progress): resolves to the shared message.
function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1${path}`);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 401) location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname)}`);
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(new ApiError(xhr.status, errorText(xhr.response, xhr.status), xhr.response?.code || ""));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "Cannot reach the server. Check your connection.", "network")));
    xhr.send(form);
  });
}

export const api = {
  me: () => request("GET", "/me"),
  updateMe: (fields) => request("PATCH", "/me", fields),
  setPicture: (file) => {
    const form = new FormData();
    form.append("picture", file);
    return request("POST", "/me/avatar", form);
  },
  users: async (search) => listIn(await request("GET", `/users${query({ search })}`), "users"),
  user: (id) => request("GET", `/users/${id}`),
  contacts: async () => listIn(await request("GET", "/contacts"), "groups"),
  addContact: async (username, group) => listIn(await request("POST", "/contacts", { username, group }), "groups"),
  removeContact: (username) => request("DELETE", `/contacts/${encodeURIComponent(username)}`),
  conversations: async () => listIn(await request("GET", "/conversations"), "conversations"),
  conversation: (id) => request("GET", `/conversations/${id}`),
  openDirect: (username) => request("POST", "/conversations/direct", { username }),
  messages: async (id, { beforeSeq, limit = 50 } = {}) =>
    listIn(await request("GET", `/conversations/${id}/messages${query({ before_seq: beforeSeq, limit })}`), "messages"),
  thread: (id, messageId) => request("GET", `/conversations/${id}/threads/${messageId}`),
  searchMessages: ({ q, before }) => request("GET", `/messages/search${query({ q, before })}`),
  rooms: async (search) => listIn(await request("GET", `/rooms${query({ search })}`), "rooms"),
  createRoom: ({ name, topic, isPublic, members }) =>
    request("POST", "/rooms", { name, topic, is_public: isPublic, members }),
  joinRoom: (id) => request("POST", `/rooms/${id}/join`, {}),
  invite: (id, usernames) => request("POST", `/rooms/${id}/invite`, { usernames }),
  leaveRoom: (id) => request("POST", `/rooms/${id}/leave`, {}),
  updateRoom: (id, { name, topic }) => request("PATCH", `/rooms/${id}`, { name, topic }),
  archiveRoom: (id) => request("POST", `/rooms/${id}/archive`, {}),
  setMemberRole: (id, username, role) => request("PATCH", `/rooms/${id}/members/${encodeURIComponent(username)}`, { role }),
  removeMember: (id, username) => request("DELETE", `/rooms/${id}/members/${encodeURIComponent(username)}`),
  markRead: (id, seq) => request("POST", `/conversations/${id}/read`, { seq }),
  mute: (id, isMuted) => request("POST", `/conversations/${id}/mute`, { is_muted: isMuted }),
  pushSubscribe: ({ endpoint, keys }) => request("POST", "/me/push-subscriptions", { endpoint, keys }),
  shareFile: (id, { file, clientId, body }, onProgress) => {
    const form = new FormData();
    form.append("file", file, file.name || "pasted-image.png");
    form.append("client_id", clientId);
    form.append("body", body || "");
    return upload(`/conversations/${id}/files`, form, onProgress);
  },
};
