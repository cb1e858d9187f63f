import { Type } from '@sinclair/typebox'
import { Timestamp } from './common.js'

export const Health = Type.Object({
  status: Type.Union([Type.Literal('OK'), Type.Literal('unavailable')]),
  timestamp: Timestamp,
  database: Type.Optional(Type.Union([Type.Literal('up'), Type.Literal('down')]))
}, { $id: 'Health', title: 'Health' })

export const Liveness = Type.Object({
  status: Type.Literal('OK'),
  uptime: Type.Number({ description: 'Seconds since the process started' })
}, { $id: 'Liveness', title: 'Liveness' })
