/** The one error type the domain throws; the error handler turns it into `{"error", "code"}`. */
export class AppError extends Error {
  override name = 'AppError'
  constructor (
    readonly statusCode: number,
    message: string,
    readonly code?: string,
    /** Seconds, for 429 and 503 (sent as Retry-After). */
    readonly retryAfter?: number
  ) {
    super(message)
  }
}

export const badRequest = (message: string, code = 'VALIDATION_ERROR'): AppError => new AppError(400, message, code)
export const unauthorized = (message: string, code = 'UNAUTHORIZED'): AppError => new AppError(401, message, code)
export const forbidden = (message: string, code = 'FORBIDDEN'): AppError => new AppError(403, message, code)
export const notFound = (message: string, code = 'NOT_FOUND'): AppError => new AppError(404, message, code)
export const conflict = (message: string, code: string): AppError => new AppError(409, message, code)
export const tooManyRequests = (message: string, retryAfter: number, code = 'RATE_LIMITED'): AppError =>
  new AppError(429, message, code, Math.max(1, Math.ceil(retryAfter)))
export const serviceUnavailable = (message: string, retryAfter: number, code: string): AppError =>
  new AppError(503, message, code, Math.max(1, Math.ceil(retryAfter)))
