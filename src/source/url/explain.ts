/** ffmpeg's complaints about a URL, in the words and codes the HTTP reader uses for the same failures. */
import { NetworkError, SourceError } from '../../errors.js';
import type { FailureExplainer } from '../ffmpeg/process.js';

export function explainUrlFailure(display: string): FailureExplainer {
  return ({ tail, detail, cause }) => {
    if (/connection refused/i.test(tail)) return new NetworkError(`cannot read ${display}: connection refused (nothing listening there?)`, 'ERR_CONNECTION_REFUSED', cause);
    if (/name or service not known|failed to resolve|no address associated|temporary failure in name resolution/i.test(tail)) {
      return new NetworkError(`cannot read ${display}: host not found`, 'ERR_HOST_NOT_FOUND', cause);
    }
    if (/timed out|timeout/i.test(tail)) return new NetworkError(`cannot read ${display}: timed out${detail}`, 'ERR_TIMEOUT', cause);
    if (/\b(401|403)\b|unauthorized|forbidden/i.test(tail)) return new SourceError(`${display} refused us${detail} (user and password in the URL?)`, 'ERR_URL_UNAUTHORIZED', cause);
    if (/\b(404|410)\b|not found/i.test(tail)) return new SourceError(`${display}: no stream at that address${detail}`, 'ERR_URL_NOT_FOUND', cause);
    if (/invalid data found|could not find codec parameters|unknown input format|matches no streams|end of file/i.test(tail)) {
      return new SourceError(`${display} is not a video stream ffmpeg reads${detail}`, 'ERR_URL_NOT_A_STREAM', cause);
    }
    if (/connection reset|broken pipe|end of stream|i\/o error/i.test(tail)) return new NetworkError(`${display} closed the connection${detail}`, 'ERR_CONNECTION_CLOSED', cause);
    return undefined;
  };
}
