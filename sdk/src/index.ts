/**
 * The Chat App client SDK: the typed REST client (openapi-fetch over the types generated from
 * openapi.yaml) and the realtime client (sdk/src/realtime.ts).
 */
import createClient from 'openapi-fetch'
import type { paths } from './openapi.js'

export type { components, paths } from './openapi.js'
export { ChatClient, RoomState, type ChatClientOptions, type ClientFrame, type FrameOf, type Message, type Room, type ServerFrame, type Status, type WebSocketLike } from './realtime.js'

/** The typed REST client: `api.GET('/api/v1/rooms')`, `api.POST('/api/v1/messages', { body })`, with your token. */
export function restClient (baseUrl: string, token?: string): ReturnType<typeof createClient<paths>> {
  return createClient<paths>({ baseUrl, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
}
