import { ChatterApiError } from '@chatter/client';
import type { AvatarResponse, SelfUser } from '@chatter/protocol';

export const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;

/**
 * PUT the picture as the raw request body. XMLHttpRequest rather than fetch: only it reports
 * upload progress. The session cookie goes along (same origin) and the browser adds Origin.
 */
export function uploadAvatar(file: Blob, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<SelfUser> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', '/api/me/avatar');
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body && typeof body === 'object' && 'user' in body) {
        onProgress(1);
        resolve((body as AvatarResponse).user);
        return;
      }
      const error = (body as { error?: { code?: string; message?: string; details?: { fields?: Record<string, string> } } } | undefined)?.error;
      reject(
        new ChatterApiError({
          status: xhr.status,
          code: error?.code ?? 'http_error',
          message: error?.message ?? `Upload failed (${xhr.status}).`,
          ...(error?.details?.fields && { fields: error.details.fields }),
        }),
      );
    };
    xhr.onerror = () => reject(new ChatterApiError({ status: 0, code: 'network_error', message: 'The upload did not reach the server. Check your connection.' }));
    xhr.onabort = () => reject(new ChatterApiError({ status: 0, code: 'aborted', message: 'Upload cancelled.' }));
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(file);
  });
}
